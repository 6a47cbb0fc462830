//! Go text/template engine and table/JSON output.

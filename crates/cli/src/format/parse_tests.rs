use super::*;

fn err(src: &str) -> String {
    parse("t", src).unwrap_err().to_string()
}

#[test]
fn numbers() {
    assert_eq!(parse_number("42"), Some(Value::Int(42)));
    assert_eq!(parse_number("-0x1F"), Some(Value::Int(-31)));
    assert_eq!(parse_number("1_000"), Some(Value::Int(1000)));
    assert_eq!(parse_number("1.5e3"), Some(Value::Float(1500.0)));
    assert_eq!(parse_number(".5"), Some(Value::Float(0.5)));
    assert_eq!(
        parse_number("18446744073709551615"),
        Some(Value::Uint(u64::MAX))
    );
    assert_eq!(parse_number("1x"), None);
    assert_eq!(parse_number("-"), None);
}

#[test]
fn structure() {
    let t = parse(
        "t",
        "a{{if .A}}b{{else if .B}}c{{else}}d{{end}}{{range $i, $e := .L}}{{$e}}{{end}}",
    )
    .unwrap();
    assert_eq!(t.root.len(), 3);
    let Node::If(b) = &t.root[1] else { panic!() };
    let Some(else_list) = &b.else_list else {
        panic!()
    };
    assert!(matches!(&else_list[..], [Node::If(_)]));
    let Node::Range(r) = &t.root[2] else { panic!() };
    assert_eq!(r.pipe.decl, ["$i", "$e"]);
}

#[test]
fn syntax_errors() {
    assert_eq!(
        err("{{foo .}}"),
        r#"template: t:1: function "foo" not defined"#
    );
    assert_eq!(err("{{if .A}}x"), "template: t:1: unexpected EOF");
    assert_eq!(err("x\n{{end}}"), "template: t:2: unexpected {{end}}");
    assert_eq!(err("{{$x}}"), r#"template: t:1: undefined variable "$x""#);
    assert_eq!(err("{{}}"), "template: t:1: missing value for command");
    assert_eq!(
        err("{{break}}"),
        "template: t:1: {{break}} outside {{range}}"
    );
    assert_eq!(
        err("{{.A | \"x\"}}"),
        "template: t:1: non executable command in pipeline stage 2"
    );
    assert_eq!(
        err("{{(.A}}"),
        r#"template: t:1: unexpected "}}" in parenthesized pipeline"#
    );
    // Variables do not outlive their control structure.
    assert_eq!(
        err("{{if $x := 1}}{{end}}{{$x}}"),
        r#"template: t:1: undefined variable "$x""#
    );
}

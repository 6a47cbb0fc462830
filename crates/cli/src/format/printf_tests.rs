//! Tests of printf.rs.
#![allow(clippy::approx_constant)]
use super::*;

fn s(v: &str) -> Value {
    Value::String(v.into())
}

fn i(v: i64) -> Value {
    Value::Int(v)
}

fn f(v: f64) -> Value {
    Value::Float(v)
}

fn p(format: &str, args: &[Value]) -> String {
    sprintf(format, args, usize::MAX).unwrap()
}

#[test]
fn verbs() {
    assert_eq!(
        p("%s|%-6s|%6s|", &[s("a"), s("bc"), s("de")]),
        "a|bc    |    de|"
    );
    assert_eq!(
        p(
            "%d %5d %-4d| %05d %+d",
            &[i(1), i(-2), Value::Uint(3), i(-42), i(7)]
        ),
        "1    -2 3   | -0042 +7"
    );
    assert_eq!(
        p(
            "%q %t %x %X %v",
            &[s("a\"b\n"), Value::Bool(true), i(255), s("hi"), f(1.5)]
        ),
        "\"a\\\"b\\n\" true ff 6869 1.5"
    );
    assert_eq!(
        p(
            "%.2f %e %g %.3s",
            &[f(1.23456), f(1234.5), f(1e7), s("abcdef")]
        ),
        "1.23 1.234500e+03 1e+07 abc"
    );
    assert_eq!(p("%d%%", &[i(5)]), "5%");
    assert_eq!(p("%d", &[s("x")]), "%!d(string=x)");
    assert_eq!(p("%s %s", &[s("x")]), "x %!s(MISSING)");
    assert_eq!(p("%s", &[s("x"), i(3)]), "x%!(EXTRA int=3)");
    let st = Value::Struct(vec![("A".into(), s("")), ("B".into(), s("8080"))]);
    assert_eq!(p("%v", std::slice::from_ref(&st)), "{ 8080}");
    assert_eq!(p("%+v", &[st]), "{A: B:8080}");
    assert_eq!(p("%q %c", &[i(97), i(98)]), "'a' b");
}

/// Each expected string is what Podman 4.3 (Go 1.19) prints for the same
/// `{{printf …}}` in `podman version --format`.
#[test]
fn flags_width_precision_as_go() {
    assert_eq!(
        p("%05s|%-05s|%5.1s|", &[s("ab"), s("ab"), s("xyz")]),
        "000ab|ab   |    x|"
    );
    assert_eq!(
        p(
            "%.3d|%08.3d|%-8.3d|%.0d|%5.0d|",
            &[i(7), i(7), i(7), i(0), i(0)]
        ),
        "007|     007|007     ||     |"
    );
    assert_eq!(
        p(
            "%+.3d|% 05d|%#x|%#o|%#08x|%x|",
            &[i(7), i(7), i(255), i(8), i(255), i(-255)]
        ),
        "+007| 0007|0xff|010|0x000000ff|-ff|"
    );
    assert_eq!(
        p("%.0d|%.0x|%#.0x|%#o|%#o|", &[i(0), i(0), i(0), i(0), i(8)]),
        "|||0|010|"
    );
    assert_eq!(
        p("%#b|%#O|%#X|", &[i(5), i(8), i(255)]),
        "0b101|0o010|0XFF|"
    );
    assert_eq!(p("%b|%o|%O|", &[i(5), i(8), i(8)]), "101|10|0o10|");
    assert_eq!(
        p("%d|%x|%o|%c|", &[i(i64::MIN), i(-1), i(-8), i(-1)]),
        "-9223372036854775808|-1|-10|\u{fffd}|"
    );
    assert_eq!(
        p("% .2f|% d|%+ d|% x|", &[f(1.5), i(5), i(5), i(255)]),
        " 1.50| 5|+5| ff|"
    );
    assert_eq!(
        p(
            "%05.1f|%-05.1f|%05t|%05v|",
            &[f(-1.5), f(-1.5), Value::Bool(true), s("ab")]
        ),
        "-01.5|-1.5 |0true|000ab|"
    );
    assert_eq!(
        p(
            "%08.3f|%+08.3f|%-+8.3f|%08f|",
            &[f(3.14159), f(3.14159), f(3.14159), f(-1.0)]
        ),
        "0003.142|+003.142|+3.142  |-1.000000|"
    );
    assert_eq!(
        p("%08.3s|%-08d|", &[s("abcdef"), i(42)]),
        "00000abc|42      |"
    );
    assert_eq!(
        p("%10.4v|%-10v|", &[f(3.14159), s("ab")]),
        "     3.142|ab        |"
    );
    assert_eq!(
        p("%5.2v|%-5v|", &[s("abc"), Value::Bool(true)]),
        "   ab|true |"
    );
    assert_eq!(p("%8.3s|", &[s("日本語日本語")]), "     日本語|");
    assert_eq!(p("%.2s|", &[s("héllo")]), "hé|");
}

#[test]
fn operands_from_star_and_index_as_go() {
    assert_eq!(
        p("%*d|%-*d|%*d|", &[i(5), i(1), i(5), i(1), i(-5), i(1)]),
        "    1|1    |1    |"
    );
    assert_eq!(
        p("%.*f|%.*f|", &[i(2), f(3.14159), i(-1), f(3.14159)]),
        "3.14|%!(BADPREC)3.141590|"
    );
    assert_eq!(p("%*d", &[s("x"), i(1)]), "%!(BADWIDTH)1");
    assert_eq!(p("%*d", &[i(1_000_001), i(1)]), "%!(BADWIDTH)1");
    assert_eq!(p("%.*d", &[i(1_000_001), i(1)]), "%!(BADPREC)1");
    assert_eq!(p("%[2]d %[1]d", &[i(1), i(2)]), "2 1");
    assert_eq!(p("%[3]d %d", &[i(1), i(2)]), "%!d(BADINDEX) 1");
    assert_eq!(
        p("%[0]d|%[x]d|%[1]", &[i(1)]),
        "%!d(BADINDEX)|%!d(BADINDEX)|%!(NOVERB)"
    );
    assert_eq!(p("%[1]*d", &[i(3), i(4)]), "  4");
    assert_eq!(p("%d %d", &[i(1)]), "1 %!d(MISSING)");
}

#[test]
fn truncated_verbs_as_go() {
    assert_eq!(p("%.", &[i(1)]), "%!.(int=1)");
    assert_eq!(p("%.d", &[i(1)]), "1");
    assert_eq!(p("%-", &[i(1)]), "%!(NOVERB)%!(EXTRA int=1)");
    assert_eq!(p("%5", &[i(1)]), "%!(NOVERB)%!(EXTRA int=1)");
    assert_eq!(p("%", &[]), "%!(NOVERB)");
}

/// The cases: huge literal widths and precisions end the parse (Go's
/// `parsenum` overflow) instead of allocating; those up to 10^7 are honoured.
#[test]
fn huge_widths_and_precisions_as_go() {
    assert_eq!(p("%999999999d", &[i(1)]), "%!(NOVERB)%!(EXTRA int=1)");
    assert_eq!(
        p("%.999999999f", &[f(1.5)]),
        "%!(NOVERB)%!(EXTRA float64=1.5)"
    );
    assert_eq!(
        p("x%99999999999999999999999999s tail %d", &[s("a"), i(2)]),
        "x%!(NOVERB)%!(EXTRA string=a, int=2)"
    );
    assert_eq!(p("%*d", &[i(999_999_999), i(1)]), "%!(BADWIDTH)1");
    assert_eq!(p("%.*f", &[i(999_999_999), f(1.5)]), "%!(BADPREC)1.500000");
    // Past Go's cut-off check but before the next digit: still a width (10 MB).
    assert_eq!(p("%10000001d", &[i(1)]).len(), 10_000_001);
    assert_eq!(p("%1000001d", &[i(1)]).len(), 1_000_001);
    let wide = p("%.1000001f", &[f(1.5)]);
    assert_eq!(wide.len(), 1_000_003);
    assert!(wide.starts_with("1.5000") && wide.ends_with("000"));
    let e = p("%.70000e", &[f(2.5)]);
    assert!(
        e.starts_with("2.5000") && e.ends_with("0e+00"),
        "{}",
        &e[..10]
    );
    assert_eq!(p("%.1000000d", &[i(5)]).len(), 1_000_000);
    assert_eq!(
        p("%.70000g", &[f(0.1)]).len(),
        57,
        "exact digits of 0.1, no zeros"
    );
    assert_eq!(p("%1000000.5s|", &[s("x")]).len(), 1_000_001);
}

#[test]
fn output_limit() {
    assert_eq!(sprintf("%1000000d", &[i(1)], 999_999), Err(Overflow));
    assert_eq!(sprintf("abc", &[], 3), Ok("abc".into()));
    assert_eq!(sprintf("abcd", &[], 3), Err(Overflow));
    assert_eq!(
        sprintf(&"%1000000d".repeat(100), &vec![i(1); 100], 10_000_000),
        Err(Overflow)
    );
}

#[test]
fn floats_as_go() {
    assert_eq!(
        p(
            "%.3g|%.10g|%g|%.3g|%#.3g|%.0g|",
            &[f(1e7), f(1e7), f(1e7), f(0.00012345), f(1.0), f(123.0)]
        ),
        "1e+07|10000000|1e+07|0.000123|1.00|1e+02|"
    );
    assert_eq!(
        p(
            "%6.2f|%-8.3e|%08.2f|%+.1e|",
            &[f(3.14159), f(1234.5), f(-3.14159), f(0.0)]
        ),
        "  3.14|1.234e+03|-0003.14|+0.0e+00|"
    );
    assert_eq!(
        p("%e|%E|%G|%F|", &[f(1.5), f(1.5), f(1e20), f(1.5)]),
        "1.500000e+00|1.500000E+00|1E+20|1.500000|"
    );
    assert_eq!(
        p(
            "%v|%v|%v|%g|",
            &[f(1234567.0), f(1e20), f(1e21), f(123456789.0)]
        ),
        "1.234567e+06|1e+20|1e+21|1.23456789e+08|"
    );
    assert_eq!(
        p("%#g|%#.3e|%#.0f|", &[f(1.5), f(2.0), f(3.0)]),
        "1.50000|2.000e+00|3.|"
    );
    assert_eq!(
        p(
            "%.3g|%.3g|%g|%.1g|%.2e|%e|",
            &[f(0.0), f(100.0), f(0.0), f(0.05), f(0.0), f(0.0)]
        ),
        "0|100|0|0.05|0.00e+00|0.000000e+00|"
    );
    assert_eq!(
        p(
            "%v|%.2f|% f|%+f|%05f|%5.1f|",
            &[f(-0.0), f(-0.001), f(1.0), f(1.0), f(-1.0), f(2.25)]
        ),
        "-0|-0.00| 1.000000|+1.000000|-1.000000|  2.2|"
    );
    assert_eq!(p("%b|", &[f(1.5)]), "6755399441055744p-52|");
    assert_eq!(
        p(
            "%v|%5.1f|%f",
            &[f(f64::INFINITY), f(f64::NAN), f(-f64::INFINITY)]
        ),
        "+Inf|  NaN|-Inf"
    );
    assert_eq!(p("%d", &[f(3.0)]), "%!d(float64=3)");
}

#[test]
fn strings_runes_and_types_as_go() {
    assert_eq!(
        p(
            "%.2s|%.5q|%q|%x|%.2x|% x|%X|",
            &[
                s("héllo"),
                s("hello"),
                s("a\tb"),
                s("hi"),
                s("hello"),
                s("hi"),
                s("hi")
            ]
        ),
        "hé|\"hello\"|\"a\\tb\"|6869|6865|68 69|6869|"
    );
    assert_eq!(
        p(
            "%x|%X|%#x|% #x|%.1x|",
            &[s("\u{7f}\0"), s("ab"), s("ab"), s("ab"), s("ab")]
        ),
        "7f00|6162|0x6162|0x61 0x62|61|"
    );
    assert_eq!(
        p(
            "%q|%+q|%#q|%#q|",
            &[s("日本"), s("日本"), s("a\"b"), s("a`b")]
        ),
        "\"日本\"|\"\\u65e5\\u672c\"|`a\"b`|\"a`b\"|"
    );
    assert_eq!(
        p("%c|%q|%U|%5c|", &[i(65), i(66), i(67), i(68)]),
        "A|'B'|U+0043|    D|"
    );
    assert_eq!(
        p(
            "%q|%q|%#q|%+q|%q|",
            &[i(39), i(-1), i(955), i(955), i(1_114_112)]
        ),
        "'\\''|'\u{fffd}'|'λ'|'\\u03bb'|'\u{fffd}'|"
    );
    assert_eq!(
        p("%U|%#U|%.6U|%08U|", &[i(955), i(955), i(955), i(955)]),
        "U+03BB|U+03BB 'λ'|U+0003BB|  U+03BB|"
    );
    assert_eq!(
        p(
            "%t|%5t|%v|%d|",
            &[
                Value::Bool(true),
                Value::Bool(false),
                Value::Nil,
                Value::Nil
            ]
        ),
        "true|false|<nil>|%!d(<nil>)|"
    );
    assert_eq!(
        p("%5s|%-5s|", &[Value::Nil, Value::Nil]),
        "%!s(<nil>)|%!s(<nil>)|"
    );
    assert_eq!(
        p("%5d|%-6x|", &[s("ab"), s("ab")]),
        "%!d(string=   ab)|6162  |"
    );
    assert_eq!(p("%s", &[i(12)]), "%!s(int=12)");
    assert_eq!(
        p(
            "%T|%T|%T|%T|%5T|",
            &[i(1), s("a"), f(1.5), Value::Nil, Value::Bool(true)]
        ),
        "int|string|float64|<nil>| bool|"
    );
    assert_eq!(
        p("%+v|%+d|%#v|%#v|", &[i(5), i(5), s("ab"), i(5)]),
        "5|+5|\"ab\"|5|"
    );
    let list = Value::List(vec![s("a"), s("b")]);
    assert_eq!(
        p(
            "%s|%d|%v|%+v|",
            &[list.clone(), list.clone(), list.clone(), list]
        ),
        "[a b]|[%!d(string=a) %!d(string=b)]|[a b]|[a b]|"
    );
}

#[test]
fn sprint_spacing() {
    assert_eq!(
        sprint(&[i(1), i(2), s("a"), i(3), s("b"), s("c")]),
        "1 2a3bc"
    );
}

//! Template language tests: each construct on data shaped like Podman's.
//! Expected strings are what Go's text/template prints for the same input.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::*;

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PortBinding {
    host_ip: String,
    host_port: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct State {
    status: String,
    running: bool,
    pid: i32,
    exit_code: i32,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Mount {
    destination: String,
    #[serde(rename = "RW")]
    rw: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Config {
    labels: BTreeMap<String, String>,
    cmd: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct HostConfig {
    port_bindings: HashMap<String, Vec<PortBinding>>,
    memory: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Inspect {
    id: String,
    name: String,
    state: State,
    mounts: Vec<Mount>,
    config: Config,
    host_config: HostConfig,
    pod: Option<String>,
    cpus: f64,
}

fn data() -> Value {
    to_value(&Inspect {
        id: "f00dcafe".into(),
        name: "web".into(),
        state: State {
            status: "running".into(),
            running: true,
            pid: 42,
            exit_code: 0,
        },
        mounts: vec![
            Mount {
                destination: "/data".into(),
                rw: true,
            },
            Mount {
                destination: "/etc/x".into(),
                rw: false,
            },
        ],
        config: Config {
            labels: BTreeMap::from([
                ("app".into(), "shop".into()),
                ("tier".into(), "front<&>".into()),
            ]),
            cmd: vec!["sh".into(), "-c".into(), "sleep 1".into()],
            user: None,
        },
        host_config: HostConfig {
            port_bindings: HashMap::from([(
                "80/tcp".into(),
                vec![PortBinding {
                    host_ip: String::new(),
                    host_port: "8080".into(),
                }],
            )]),
            memory: 0,
        },
        pod: None,
        cpus: 1.5,
    })
    .unwrap()
}

fn run(text: &str) -> String {
    match render("t", text, &data()) {
        Ok(s) => s,
        Err(e) => panic!("{text:?}: {e}"),
    }
}

fn fails(text: &str) -> String {
    match render("t", text, &data()) {
        Ok(s) => panic!("{text:?} should fail, printed {s:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn fields_and_go_printing() {
    assert_eq!(
        run("{{.Id}} {{.State.Status}} {{.State.Pid}} {{.Cpus}}"),
        "f00dcafe running 42 1.5"
    );
    assert_eq!(run("{{.HostConfig.PortBindings}}"), "map[80/tcp:[{ 8080}]]");
    assert_eq!(run("{{.State}}"), "{running true 42 0}");
    assert_eq!(run("{{.Config.Cmd}}"), "[sh -c sleep 1]");
    assert_eq!(run("{{.Mounts}}"), "[{/data true} {/etc/x false}]");
    assert_eq!(run("{{.Config.Labels}}"), "map[app:shop tier:front<&>]");
    assert_eq!(run("{{.Pod}}"), "<nil>");
    // A missing map key prints <no value>, and stays so down a chain.
    assert_eq!(
        run("{{.Config.Labels.nope}}|{{.Config.Labels.nope.deeper}}"),
        "<no value>|<no value>"
    );
    assert_eq!(run("{{.Config.Labels.app}}"), "shop");
    assert_eq!(run("{{$}}"), run("{{.}}"));
    assert_eq!(run("{{ .Mounts | len }}"), "2");
    assert!(fails("{{ . | len }}").contains("error calling len: len of type struct"));
}

#[test]
fn missing_struct_field_is_an_error() {
    assert_eq!(
        fails("{{.Nope}}"),
        r#"template: t:1:2: executing "t" at <.Nope>: can't evaluate field Nope in type struct"#
    );
    assert_eq!(
        fails("x\n  {{.State.Bogus}}"),
        r#"template: t:2:4: executing "t" at <.State.Bogus>: can't evaluate field Bogus in type struct"#
    );
    // A field the JSON omits (omitempty) is still a field of the Go struct: its zero value.
    assert_eq!(run("{{.Config.User}}"), "<nil>");
    assert_eq!(run("{{len .Config.User}}"), "0");
    assert!(fails("{{.Id.X}}").contains("can't evaluate field X in type string"));
    assert!(fails("{{.Pod.X}}").contains("nil pointer evaluating"));
}

#[test]
fn conditionals() {
    assert_eq!(run("{{if .State.Running}}up{{else}}down{{end}}"), "up");
    assert_eq!(
        run("{{if .HostConfig.Memory}}limited{{else if .Pod}}pod{{else}}free{{end}}"),
        "free"
    );
    assert_eq!(
        run("{{if not .Config.Cmd}}none{{else}}{{len .Config.Cmd}}{{end}}"),
        "3"
    );
    assert_eq!(
        run("{{if and .State.Running (eq .State.Pid 42)}}ok{{end}}"),
        "ok"
    );
    assert_eq!(
        run("{{or .Pod .Name}} {{and .Name .Pod}} {{or .Pod 0}}"),
        "web <nil> 0"
    );
    assert_eq!(run("{{with .State}}{{.Status}}{{end}}"), "running");
    assert_eq!(run("{{with .Pod}}in {{.}}{{else}}no pod{{end}}"), "no pod");
    assert_eq!(run("{{with .Pod}}a{{else with .Name}}{{.}}{{end}}"), "web");
    // and/or stop at the deciding argument: the bad field is never reached.
    assert_eq!(run("{{if or .Name .Nope}}short{{end}}"), "short");
}

#[test]
fn ranges() {
    assert_eq!(
        run("{{range .Mounts}}{{.Destination}} {{end}}"),
        "/data /etc/x "
    );
    assert_eq!(
        run("{{range $i, $m := .Mounts}}{{$i}}={{$m.Destination}},{{end}}"),
        "0=/data,1=/etc/x,"
    );
    assert_eq!(
        run("{{range $k, $v := .Config.Labels}}{{$k}}:{{$v}};{{end}}"),
        "app:shop;tier:front<&>;"
    );
    assert_eq!(
        run("{{range .Config.Labels}}{{.}},{{end}}"),
        "shop,front<&>,"
    );
    assert_eq!(
        run("{{range .HostConfig.PortBindings}}{{range .}}{{.HostPort}}{{end}}{{end}}"),
        "8080"
    );
    assert_eq!(run("{{range .Pod}}x{{else}}empty{{end}}"), "empty");
    assert_eq!(
        run(
            "{{range $x := .Config.Cmd}}{{if eq $x \"-c\"}}{{continue}}{{end}}{{if eq $x \"sleep 1\"}}{{break}}{{end}}{{$x}}{{end}}"
        ),
        "sh"
    );
    assert_eq!(run("{{range 3}}{{.}}{{end}}"), "012");
    // $ stays the top-level data inside range.
    assert_eq!(run("{{range .Mounts}}{{$.Name}}{{end}}"), "webweb");
    assert!(
        fails("{{range .State}}x{{end}}").contains("range can't iterate over {running true 42 0}")
    );
}

#[test]
fn variables() {
    assert_eq!(run("{{$n := .Name}}{{$n}}-{{$n = \"x\"}}{{$n}}"), "web-x");
    assert_eq!(run("{{$s := .State}}{{$s.Pid}}"), "42");
    // An assignment inside a block changes the outer variable.
    assert_eq!(
        run("{{$c := 0}}{{range .Mounts}}{{$c = .Destination}}{{end}}{{$c}}"),
        "/etc/x"
    );
}

#[test]
fn pipelines_and_literals() {
    assert_eq!(run("{{.Name | upper}}"), "WEB");
    assert_eq!(
        run("{{.Name | printf \"%s-%d\" | printf \"%s!\"}}"),
        "web-%!d(MISSING)!"
    );
    assert_eq!(
        run("{{printf \"%s-%d\" .Name .State.Pid | printf \"[%s]\"}}"),
        "[web-42]"
    );
    assert_eq!(
        run("{{(.State).Status}} {{(index .Mounts 1).Destination}}"),
        "running /etc/x"
    );
    assert_eq!(
        run("{{print 1 2 \"a\" 3.5 true nil}}"),
        "1 2a3.5 true <nil>"
    );
    assert_eq!(run("{{println \"a\" 1}}"), "a 1\n");
    assert_eq!(
        run("{{`raw\\n`}} {{\"q\\t\\\"\"}} {{0x10}} {{1e3}} {{'a'}} {{-2}}"),
        "raw\\n q\t\" 16 1000 97 -2"
    );
    assert_eq!(run("a {{- /* comment */ -}} b {{- \" c \" -}} d"), "ab c d");
}

#[test]
fn builtin_functions() {
    assert_eq!(
        run(
            "{{index .Config.Labels \"app\"}}|{{index .Config.Labels \"nope\"}}|{{index .Config.Cmd 2}}"
        ),
        "shop||sleep 1"
    );
    assert_eq!(
        run("{{index .HostConfig.PortBindings \"80/tcp\" 0 | printf \"%v\"}}"),
        "{ 8080}"
    );
    assert_eq!(
        run("{{slice .Name 1}} {{slice .Name 0 2}} {{slice .Config.Cmd 1 2}}"),
        "eb we [-c]"
    );
    assert_eq!(run("{{len .Name}} {{len .Config.Labels}}"), "3 2");
    assert_eq!(
        run(
            "{{eq .Name \"db\" \"web\"}} {{ne .State.Pid 1}} {{lt 1 2}} {{le 2 2}} {{gt \"b\" \"a\"}} {{ge 1.5 2.5}}"
        ),
        "true true true true true false"
    );
    assert_eq!(
        run("{{printf \"%-8s|%5d|%q|%t|%x|%v\" .Name .State.Pid .Name .State.Running 255 .Cpus}}"),
        "web     |   42|\"web\"|true|ff|1.5"
    );
}

#[test]
fn podman_functions() {
    assert_eq!(
        run("{{json .State}}"),
        r#"{"Status":"running","Running":true,"Pid":42,"ExitCode":0}"#
    );
    assert_eq!(
        run("{{json .Config.Labels}}"),
        r#"{"app":"shop","tier":"front<&>"}"#
    );
    assert_eq!(run("{{json .Pod}} {{json .Name}}"), r#"null "web""#);
    assert_eq!(
        run("{{.Name | upper | lower}} {{title \"hello world\"}}"),
        "web Hello World"
    );
    assert_eq!(run("{{join .Config.Cmd \",\"}}"), "sh,-c,sleep 1");
    assert_eq!(
        run("{{split \"a:b:c\" \":\"}} {{len (split \"a:b\" \":\")}}"),
        "[a b c] 2"
    );
    assert_eq!(
        run("{{truncate .Id 4}} {{truncate .Id 40}}"),
        "f00d f00dcafe"
    );
    assert_eq!(run("[{{pad .Name 2 1}}][{{pad \"\" 2 1}}]"), "[  web ][]");
}

#[test]
fn function_errors() {
    assert_eq!(
        fails("{{nosuch .Name}}"),
        r#"template: t:1: function "nosuch" not defined"#
    );
    assert_eq!(
        fails("{{join .State \",\"}}"),
        r#"template: t:1:2: executing "t" at <join>: error calling join: wrong type for value; expected []string; got struct"#
    );
    assert_eq!(
        fails("{{upper}}"),
        r#"template: t:1:2: executing "t" at <upper>: wrong number of args for upper: want 1 got 0"#
    );
    assert!(
        fails("{{index .Config.Cmd 9}}").contains("error calling index: index out of range: 9")
    );
    assert!(fails("{{eq .Name 1}}").contains("incompatible types for comparison"));
    assert!(fails("{{.Name 1}}").contains("can't give argument to non-function .Name"));
}

#[test]
fn syntax_errors_say_where() {
    assert_eq!(fails("ok\n{{.Name"), "template: t:2: unclosed action");
    assert_eq!(fails("{{if .Name}}"), "template: t:1: unexpected EOF");
    assert_eq!(fails("{{end}}"), "template: t:1: unexpected {{end}}");
    assert_eq!(fails("{{else}}"), "template: t:1: unexpected {{else}}");
    assert_eq!(
        fails("{{.Name | }}"),
        "template: t:1: missing value for command"
    );
    assert_eq!(
        fails("{{define \"x\"}}{{end}}"),
        "template: t:1: {{define}} is not supported"
    );
    assert_eq!(
        fails("{{ .Name ! }}"),
        "template: t:1: unrecognized character in action: '!'"
    );
}

#[test]
fn value_error_message() {
    let e = to_value(&HashMap::from([(vec![1u8], 1)])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot format value: map key of type []interface {} is not supported"
    );
}

#[test]
fn table_header_with_functions() {
    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Row {
        #[serde(rename = "ID")]
        id: String,
        names: Vec<String>,
    }
    let rows = [to_value(&Row {
        id: "abc".into(),
        names: vec!["a".into(), "b".into()],
    })
    .unwrap()];
    let f = Formatter::new("ps", r#"table {{.ID | truncate 2}} {{join .Names ","}}"#);
    // `truncate 2` gets the value last: the spaces became tabs but still
    // separate arguments.
    let f = f.unwrap();
    assert!(
        f.render(&rows, &[], false).is_err(),
        "truncate takes (string, int)"
    );
    let f = Formatter::new("ps", r#"table {{truncate .ID 2}} {{join .Names ","}}"#).unwrap();
    assert_eq!(
        f.render(&rows, &[], false).unwrap(),
        "ID          NAMES\nab          a,b\n"
    );
}

#[test]
fn whitespace_trimming_across_lines() {
    let text = "{{range .Mounts -}}\n  {{ .Destination }}\n{{- end}}";
    assert_eq!(run(text), "/data/etc/x");
    assert_eq!(run("{{- .Name -}}"), "web");
}

fn nested(open: &str, inner: &str, close: &str, n: usize) -> String {
    format!("{}{inner}{}", open.repeat(n), close.repeat(n))
}

/// Nesting up to Go's 10000 levels renders on an ordinary test thread (the recursion grows
/// its stack on demand); one more level is a parse error, never a stack overflow.
#[test]
fn deep_nesting_renders_and_deeper_is_refused() {
    let ifs = nested("{{if 1}}", "x", "{{end}}", parse::MAX_DEPTH);
    assert_eq!(run(&ifs), "x");
    let mixed = nested("{{with $}}{{range $.Mounts}}", "-", "{{end}}{{end}}", 4);
    assert_eq!(run(&mixed), "-".repeat(16));
    let e = fails(&nested("{{if 1}}", "x", "{{end}}", parse::MAX_DEPTH + 1));
    assert!(e.contains("max nesting depth exceeded"), "{e}");
    let parens = format!(
        "{{{{{}1{}}}}}",
        "(".repeat(parse::MAX_DEPTH),
        ")".repeat(parse::MAX_DEPTH)
    );
    assert_eq!(run(&parens), "1");
    let e = fails(&format!("{{{{{}1}}}}", "(".repeat(parse::MAX_DEPTH + 1)));
    assert!(e.contains("max expression depth exceeded"), "{e}");
    // Go's answer for a template that never closes its ifs.
    let e = fails(&"{{if 1}}".repeat(parse::MAX_DEPTH));
    assert!(e.ends_with("unexpected EOF"), "{e}");
    // The table path walks the tree for header names too.
    let table = format!("table {}", nested("{{if 1}}", "{{.Name}}", "{{end}}", 5000));
    let f = Formatter::new("ps", &table).unwrap();
    let out = f.render(&[data()], &[], false).unwrap();
    assert_eq!(out, "NAME\nweb\n");
}

/// What one execution writes and makes is bounded: past the limit it stops with an error
/// naming the action, instead of growing until the process dies.
#[test]
fn output_and_created_text_are_bounded() {
    let limit = 1 << 20;
    let run_limited = |text: &str| {
        let tree = parse::parse("t", text).unwrap();
        exec::execute_limited(&tree, &data(), limit)
    };
    let over = |text: &str| {
        let e = run_limited(text).unwrap_err().to_string();
        assert!(e.contains("template output exceeds 1 MiB"), "{text}: {e}");
        e
    };
    let e = over("{{range 2147483647}}x{{end}}");
    assert!(e.starts_with("template: t:1:"), "{e}");
    over("{{range 9223372036854775807}}{{.}}{{end}}");
    over(r#"{{$x := "xxxxxxxx"}}{{range 64}}{{$x = print $x $x}}{{end}}{{len $x}}"#);
    over(r#"{{$x := "xxxxxxxx"}}{{range 64}}{{$x = printf "%s%s" $x $x}}{{end}}"#);
    over(r#"{{range 1000}}{{$x := printf "%10000d" 1}}{{end}}"#);
    let e = over(r#"{{pad "x" 999999999999 0}}"#);
    assert!(e.contains("error calling pad"), "{e}");
    over(r#"{{split (printf "%1000000d" 1) ""}}"#);
    over(r#"{{$x := printf "%1000000d" 1}}{{join (split $x "") ","}}"#);
    over(r#"{{upper (printf "%1000000d" 1)}}"#);
    // Within the limit all of these work, and ranging over a huge number stops on break
    // without counting to the end first.
    assert_eq!(
        run_limited("{{range 9223372036854775807}}{{if eq . 3}}{{break}}{{end}}{{.}}{{end}}")
            .unwrap(),
        "012"
    );
    assert_eq!(
        run_limited(r#"{{len (printf "%100000d" 1)}} {{len (pad "x" 1000 1000)}}"#).unwrap(),
        "100000 2001"
    );
}

/// The real limit stops a loop of wide printfs long before memory runs out.
#[test]
fn default_output_limit_stops_a_runaway_template() {
    let e = fails(r#"{{range 100000}}{{printf "%1000000d" 1}}{{end}}"#);
    assert!(e.contains("template output exceeds 256 MiB"), "{e}");
    // Go's printf answers for the issue's formats.
    assert_eq!(
        run(r#"{{printf "%999999999d" 1}}"#),
        "%!(NOVERB)%!(EXTRA int=1)"
    );
    assert_eq!(
        run(r#"{{printf "%.999999999f" 1.5}}"#),
        "%!(NOVERB)%!(EXTRA float64=1.5)"
    );
}

#[test]
fn id_field_answers_to_its_go_name() {
    #[derive(Serialize)]
    #[allow(non_snake_case)]
    struct Inspect {
        Id: String,
    }
    let v = to_value(&Inspect { Id: "abc".into() }).unwrap();
    assert_eq!(
        crate::format::render_object("inspect", "{{.ID}}", &v).unwrap(),
        "abc\n"
    );
    assert_eq!(
        crate::format::render_object("inspect", "{{.Id}}", &v).unwrap(),
        "abc\n"
    );
    assert!(crate::format::render_object("inspect", "{{.Iid}}", &v).is_err());
}

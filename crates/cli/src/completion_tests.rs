use super::*;
use clap::CommandFactory;

fn tree() -> Command {
    let mut root = crate::cli::Cli::command();
    root.build();
    root
}

struct Fake;
impl Objects for Fake {
    fn names(&self, kind: Kind, _partial: &str) -> Vec<String> {
        match kind {
            Kind::Container => vec!["web".into(), "db".into()],
            Kind::Image => vec!["localhost/app:1".into()],
            Kind::Volume => vec!["data".into()],
            Kind::Network => vec!["net1".into()],
            Kind::Pod => vec!["pod1".into()],
            _ => vec![],
        }
    }
}

fn ask(line: &[&str], partial: &str) -> Answer {
    let prior: Vec<String> = line.iter().map(|s| s.to_string()).collect();
    answer(&tree(), "podman", &prior, partial, &Fake)
}

fn names(a: &Answer) -> Vec<&str> {
    a.candidates.iter().map(|c| c.0.as_str()).collect()
}

#[test]
fn commands_complete_from_their_prefix() {
    let a = ask(&[], "con");
    assert_eq!(names(&a), ["container"]);
    assert_eq!(a.directive, NO_FILE_COMP);
}

#[test]
fn arguments_complete_with_the_objects_they_name() {
    assert_eq!(names(&ask(&["rm"], "")), ["web", "db"]);
    assert_eq!(names(&ask(&["rm"], "w")), ["web"]);
    assert_eq!(names(&ask(&["volume", "rm"], "")), ["data"]);
    assert_eq!(names(&ask(&["network", "rm"], "")), ["net1"]);
    assert_eq!(names(&ask(&["pod", "rm"], "")), ["pod1"]);
    assert_eq!(names(&ask(&["rmi"], "")), ["localhost/app:1"]);
}

#[test]
fn flags_complete_after_a_dash_and_a_flags_value_is_a_file() {
    let a = ask(&["ps"], "--");
    assert!(names(&a).contains(&"--all"), "{a:?}");
    assert_eq!(a.directive, NO_FILE_COMP);
    let a = ask(&["build", "--file"], "");
    assert_eq!(a.directive, 0, "{a:?}");
}

#[test]
fn render_ends_with_the_directive() {
    let a = Answer {
        candidates: vec![("web".into(), "a container".into())],
        directive: NO_FILE_COMP,
    };
    let (out, err) = render(&a, false);
    assert_eq!(out, "web\n:4\n");
    assert_eq!(
        err,
        "Completion ended with directive: ShellCompDirectiveNoFileComp\n"
    );
    let (out, _) = render(&a, true);
    assert_eq!(out, "web\ta container\n:4\n");
    assert_eq!(directive_names(0), "ShellCompDirectiveDefault");
}

//! The history `created_by` strings Podman 4.3 (Buildah 1.28) writes for each step, in
//! Docker's classic format:
//!
//! - `RUN`: `/bin/sh -c <the line after "RUN ">`, prefixed with `|N K=V …` when build args
//!   are in scope (the declared ARGs with a value, an ENV of the same name taking
//!   precedence, sorted); heredoc bodies follow on new lines, trimmed, as later Buildah
//!   writes them (1.28 left them out, which is why its cache missed body changes).
//! - `COPY`/`ADD`: `/bin/sh -c #(nop) COPY <content> in <dest> ` (`file:<hex>`,
//!   `dir:<hex>` or `multi:<hex>`; the destination as written; a trailing space).
//! - `ARG`: `/bin/sh -c #(nop) ARG <names of the ARGs with a value, sorted>`.
//! - anything else: `/bin/sh -c #(nop) <the instruction as written>`.
//!
//! One departure: `N` counts the build args. Buildah counts the words of `K=V …`, so a
//! value with a space made it wrong.

use crate::build::expand::StageScope;
use crate::build::parse::{Instruction, InstructionKind};

/// The `created_by` of `instruction` (as written). `scope` is the stage's scope in force
/// for the step: after an ARG's declaration for an ARG step, before the step otherwise.
/// `content` is the content summary of a COPY/ADD.
pub fn created_by(instruction: &Instruction, scope: &StageScope, content: &str) -> String {
    match &instruction.kind {
        InstructionKind::Arg(_) => format!("/bin/sh -c #(nop) ARG {}", scope.arg_keys().join(" ")),
        InstructionKind::Run(run) => {
            let args = scope.history_args();
            let mut out = String::new();
            if !args.is_empty() {
                out.push_str(&format!("|{} {} ", args.len(), args.join(" ")));
            }
            out.push_str("/bin/sh -c ");
            out.push_str(instruction.original.get(4..).unwrap_or(""));
            for doc in &run.command.heredocs {
                out.push('\n');
                out.push_str(doc.content.trim());
            }
            out
        }
        InstructionKind::Copy(c) => {
            format!("/bin/sh -c #(nop) COPY {content} in {} ", c.sources.dest)
        }
        InstructionKind::Add(a) => {
            format!("/bin/sh -c #(nop) ADD {content} in {} ", a.sources.dest)
        }
        _ => format!("/bin/sh -c #(nop) {}", instruction.original),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::expand::{BuildArgs, GlobalArgs, Vars};
    use crate::build::parse::parse;

    /// The created_by of each instruction of the first stage, ARGs declared on the way.
    fn history(text: &str, args: &[(&str, &str)], env: &[&str]) -> Vec<String> {
        let cf = parse("Containerfile", text).unwrap();
        let args = BuildArgs::new(args.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let global = GlobalArgs::resolve(&cf, Vars::default(), &args).unwrap();
        let env: Vec<String> = env.iter().map(|s| s.to_string()).collect();
        let mut scope = StageScope::new(&cf, &env);
        let mut out = Vec::new();
        for i in &cf.stages[0].instructions {
            match &i.kind {
                InstructionKind::Arg(d) => {
                    scope.declare(d, i.line, &global, &args).unwrap();
                    out.push(created_by(i, &scope, ""));
                }
                _ => {
                    out.push(created_by(i, &scope, "file:abc"));
                    scope.apply(&scope.expand(i).unwrap());
                }
            }
        }
        out
    }

    #[test]
    fn podman_history_of_the_demo() {
        let text = "FROM localhost/bb\n\
            ARG GREETING=hi\n\
            ENV APP=/app\n\
            WORKDIR $APP\n\
            COPY hello.txt .\n\
            RUN echo \"$GREETING\" > greet.txt && ls\n\
            EXPOSE 8080\n\
            LABEL org.example=demo\n\
            CMD [\"cat\", \"/app/greet.txt\"]\n";
        assert_eq!(
            history(text, &[], &["PATH=/bin"]),
            [
                "/bin/sh -c #(nop) ARG GREETING",
                "/bin/sh -c #(nop) ENV APP=/app",
                "/bin/sh -c #(nop) WORKDIR $APP",
                "/bin/sh -c #(nop) COPY file:abc in . ",
                "|1 GREETING=hi /bin/sh -c echo \"$GREETING\" > greet.txt && ls",
                "/bin/sh -c #(nop) EXPOSE 8080",
                "/bin/sh -c #(nop) LABEL org.example=demo",
                "/bin/sh -c #(nop) CMD [\"cat\", \"/app/greet.txt\"]",
            ]
        );
        let h = history(text, &[("GREETING", "yo there")], &[]);
        assert_eq!(
            h[4],
            "|1 GREETING=yo there /bin/sh -c echo \"$GREETING\" > greet.txt && ls"
        );
    }

    #[test]
    fn run_history_details() {
        let h = history(
            "FROM x\nARG B=2 A=1 NOVALUE\nENV B=env\nRUN --mount=type=cache,target=/c make\nrun   x\nRUN <<EOF\n  echo body  \nEOF\n",
            &[("HTTP_PROXY", "p")],
            &[],
        );
        assert_eq!(h[0], "/bin/sh -c #(nop) ARG A B");
        assert_eq!(
            h[2],
            "|2 A=1 B=env /bin/sh -c --mount=type=cache,target=/c make"
        );
        assert_eq!(h[3], "|2 A=1 B=env /bin/sh -c   x");
        assert_eq!(h[4], "|2 A=1 B=env /bin/sh -c <<EOF\necho body");
        let h = history(
            "FROM x\nRUN a\nCOPY [\"a b\", \"/d/\"]\nADD --chown=1 u /t\n",
            &[],
            &[],
        );
        assert_eq!(
            h,
            [
                "/bin/sh -c a",
                "/bin/sh -c #(nop) COPY file:abc in /d/ ",
                "/bin/sh -c #(nop) ADD file:abc in /t "
            ]
        );
    }
}

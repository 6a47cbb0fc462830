//! Build arguments and variables, scoped as BuildKit scopes them (`dockerfile2llb`):
//!
//! - The global scope ([`GlobalArgs`]) holds the automatic platform args (`TARGETPLATFORM`,
//!   `BUILDARCH`, …, `TARGETSTAGE`) and the `ARG`s before the first `FROM`; `--build-arg`
//!   overrides their defaults. It is seen by `FROM` lines only.
//! - A stage ([`StageScope`]) starts with its base image's `Env` (or, `FROM` an earlier
//!   stage, with that stage's scope). `ARG` declares a name: its value is the `--build-arg`,
//!   else its default (expanded when declared), else the global value of that name; `ENV`
//!   sets a variable. Later writes replace earlier ones, whichever instruction made them.
//! - Which instructions expand their words is BuildKit's list: ENV, LABEL, ADD and COPY
//!   (paths, `--chown`, `--chmod`, ADD `--checksum`, heredoc bodies not quoted), WORKDIR,
//!   USER, VOLUME, STOPSIGNAL, EXPOSE (split into words), ARG defaults, RUN `--mount` values,
//!   and FROM (global scope). RUN/CMD/ENTRYPOINT commands, SHELL, HEALTHCHECK, ONBUILD,
//!   MAINTAINER and `COPY --from` are never expanded.
//! - The proxy variables (`HTTP_PROXY`, `no_proxy`, …) need no `ARG`: given as build args
//!   they reach RUN steps, and stay out of the history unless declared.
//!
//! Podman 4.3 (Buildah) differs in one visible place: an `ENV` always beats an `ARG` of the
//! same name there; here, as in BuildKit, the later instruction wins.

use std::collections::BTreeMap;

use super::lex::{Env, Lex};
use crate::build::parse::{
    ArgDecl, Containerfile, Instruction, InstructionKind, KeyValue, MetaArg, Mount, Sources, Stage,
};
use crate::build::{BuildError, Result};

/// The build arguments Docker predefines: usable without `ARG`, never "unused", kept out of
/// the history.
pub const PROXY_ARGS: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// Ordered variables; setting a name again replaces its value in place.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vars(Vec<(String, String)>);

impl Vars {
    /// From `KEY=VALUE` strings (an image's `Env`); a string without `=` is a name with an
    /// empty value.
    pub fn from_env_list(env: &[String]) -> Vars {
        let mut v = Vars::default();
        for e in env {
            let (k, val) = e.split_once('=').unwrap_or((e, ""));
            v.set(k, val);
        }
        v
    }

    pub fn set(&mut self, key: &str, value: &str) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value.to_string(),
            None => self.0.push((key.to_string(), value.to_string())),
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// As `KEY=VALUE` strings, in order.
    pub fn to_env_list(&self) -> Vec<String> {
        self.iter().map(|(k, v)| format!("{k}={v}")).collect()
    }
}

impl Env for Vars {
    fn get(&self, key: &str) -> Option<String> {
        Vars::get(self, key).map(str::to_string)
    }
}

/// `--build-arg` values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildArgs(BTreeMap<String, String>);

impl BuildArgs {
    pub fn new(values: impl IntoIterator<Item = (String, String)>) -> BuildArgs {
        BuildArgs(values.into_iter().collect())
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}

/// An OS/architecture/variant triple, named as Go and OCI name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub arch: String,
    pub variant: Option<String>,
}

impl Platform {
    /// The platform this binary runs on (containerd's `DefaultSpec`).
    pub fn host() -> Platform {
        let (arch, variant) = match std::env::consts::ARCH {
            "x86_64" => ("amd64", None),
            "x86" => ("386", None),
            "aarch64" => ("arm64", Some("v8")),
            "arm" => ("arm", Some("v7")),
            "powerpc64" if cfg!(target_endian = "little") => ("ppc64le", None),
            "powerpc64" => ("ppc64", None),
            "s390x" => ("s390x", None),
            "riscv64" => ("riscv64", None),
            "loongarch64" => ("loong64", None),
            "mips64" => ("mips64", None),
            other => (other, None),
        };
        Platform {
            os: std::env::consts::OS.to_string(),
            arch: arch.to_string(),
            variant: variant.map(str::to_string),
        }
    }

    /// `os/arch[/variant]`.
    pub fn format(&self) -> String {
        match &self.variant {
            Some(v) => format!("{}/{}/{}", self.os, self.arch, v),
            None => format!("{}/{}", self.os, self.arch),
        }
    }
}

/// The automatic args of the global scope (BuildKit's `defaultArgs`), `--build-arg`
/// overriding them; `target` is the target stage's name.
pub fn builtin_args(
    build: &Platform,
    target_platform: &Platform,
    target: Option<&str>,
    build_args: &BuildArgs,
) -> Vars {
    let mut v = Vars::default();
    let variant = |p: &Platform| p.variant.clone().unwrap_or_default();
    for (k, val) in [
        ("BUILDPLATFORM", build.format()),
        ("BUILDOS", build.os.clone()),
        ("BUILDOSVERSION", String::new()),
        ("BUILDARCH", build.arch.clone()),
        ("BUILDVARIANT", variant(build)),
        ("TARGETPLATFORM", target_platform.format()),
        ("TARGETOS", target_platform.os.clone()),
        ("TARGETOSVERSION", String::new()),
        ("TARGETARCH", target_platform.arch.clone()),
        ("TARGETVARIANT", variant(target_platform)),
        ("TARGETSTAGE", target.unwrap_or("default").to_string()),
    ] {
        v.set(k, build_args.get(k).unwrap_or(&val));
    }
    v
}

fn step_error(file: &str, line: usize, message: String) -> BuildError {
    BuildError::Step {
        file: file.to_string(),
        line,
        message,
    }
}

/// The global scope: automatic args and the ARGs before the first FROM.
#[derive(Debug, Clone)]
pub struct GlobalArgs {
    file: String,
    escape: char,
    vars: Vars,
}

impl GlobalArgs {
    /// Resolve the ARGs before FROM (BuildKit's `buildMetaArgs`): a `--build-arg` wins,
    /// else the default expanded with what is defined so far.
    pub fn resolve(
        cf: &Containerfile,
        builtins: Vars,
        build_args: &BuildArgs,
    ) -> Result<GlobalArgs> {
        let lex = Lex::new(cf.directives.escape);
        let mut vars = builtins;
        for MetaArg { line, args, .. } in &cf.args_before_from {
            for ArgDecl { key, default } in args {
                let value = match (build_args.get(key), default) {
                    (Some(v), _) => Some(v.to_string()),
                    (None, Some(d)) => Some(
                        lex.process_word(d, &vars)
                            .map_err(|m| step_error(&cf.file, *line, m))?
                            .result,
                    ),
                    (None, None) => None,
                };
                if let Some(v) = value {
                    vars.set(key, &v);
                }
            }
        }
        Ok(GlobalArgs {
            file: cf.file.clone(),
            escape: cf.directives.escape,
            vars,
        })
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars.get(key)
    }

    pub fn vars(&self) -> &Vars {
        &self.vars
    }

    /// A stage's base and platform with the global args expanded.
    pub fn expand_from(&self, stage: &Stage) -> Result<(String, Option<String>)> {
        let lex = Lex::new(self.escape);
        let word = |w: &str| {
            lex.process_word(w, &self.vars)
                .map(|p| p.result)
                .map_err(|m| step_error(&self.file, stage.line, m))
        };
        let base = word(&stage.base)?;
        if base.is_empty() {
            return Err(step_error(
                &self.file,
                stage.line,
                format!("base name ({}) should not be blank", stage.base),
            ));
        }
        let platform = match &stage.platform {
            None => None,
            Some(p) => {
                let v = word(p)?;
                if v.is_empty() {
                    return Err(step_error(
                        &self.file,
                        stage.line,
                        format!("empty platform value from expression {p}"),
                    ));
                }
                Some(v)
            }
        };
        Ok((base, platform))
    }
}

/// One declared ARG of a stage and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgValue {
    pub key: String,
    pub value: Option<String>,
}

/// The variables of one stage as its instructions run.
#[derive(Debug, Clone)]
pub struct StageScope {
    file: String,
    escape: char,
    /// What words see: base image Env, then ARGs and ENVs in order.
    env: Vars,
    /// The image config's Env (base image Env and ENVs; ARGs are not in it).
    config_env: Vars,
    /// ARGs declared in this stage (and the stages it is built on).
    args: Vec<ArgValue>,
}

impl StageScope {
    /// A stage on an image whose config has `base_env`.
    pub fn new(cf: &Containerfile, base_env: &[String]) -> StageScope {
        let env = Vars::from_env_list(base_env);
        StageScope {
            file: cf.file.clone(),
            escape: cf.directives.escape,
            config_env: env.clone(),
            env,
            args: Vec::new(),
        }
    }

    /// Expand one word with the stage's variables.
    pub fn word(&self, word: &str, line: usize) -> Result<String> {
        Lex::new(self.escape)
            .process_word(word, &self.env)
            .map(|p| p.result)
            .map_err(|m| step_error(&self.file, line, m))
    }

    /// The variables words see.
    pub fn vars(&self) -> &Vars {
        &self.env
    }

    /// The image config's `Env`.
    pub fn config_env(&self) -> &Vars {
        &self.config_env
    }

    /// The declared ARGs, in order.
    pub fn args(&self) -> &[ArgValue] {
        &self.args
    }

    /// Run an `ARG` (BuildKit's `dispatchArg`).
    pub fn declare(
        &mut self,
        decls: &[ArgDecl],
        line: usize,
        global: &GlobalArgs,
        build_args: &BuildArgs,
    ) -> Result<()> {
        for ArgDecl { key, default } in decls {
            let value = match (build_args.get(key), default) {
                (Some(v), _) => Some(v.to_string()),
                (None, Some(d)) => Some(self.word(d, line)?),
                (None, None) => global.get(key).map(str::to_string),
            };
            if let Some(v) = &value {
                self.env.set(key, v);
            }
            self.args.push(ArgValue {
                key: key.clone(),
                value,
            });
        }
        Ok(())
    }

    /// Apply an expanded `ENV` (other instructions leave the variables alone).
    pub fn apply(&mut self, expanded: &Instruction) {
        if let InstructionKind::Env(kvs) = &expanded.kind {
            for kv in kvs {
                self.env.set(&kv.key, &kv.value);
                self.config_env.set(&kv.key, &kv.value);
            }
        }
    }

    /// The instruction with its words expanded, per BuildKit's list (module doc). ARG is
    /// returned as written: [`StageScope::declare`] expands its defaults.
    pub fn expand(&self, i: &Instruction) -> Result<Instruction> {
        let line = i.line;
        let w = |s: &str| self.word(s, line);
        // A flag that expands to nothing is not given (BuildKit's "" default).
        let opt = |s: &Option<String>| {
            s.as_deref()
                .map(w)
                .transpose()
                .map(|v| v.filter(|v| !v.is_empty()))
        };
        let kind = match &i.kind {
            InstructionKind::Env(kvs) => InstructionKind::Env(self.key_values(kvs, line)?),
            InstructionKind::Label(kvs) => InstructionKind::Label(self.key_values(kvs, line)?),
            InstructionKind::Add(a) => {
                let mut a = a.clone();
                a.chown = opt(&a.chown)?;
                a.chmod = opt(&a.chmod)?;
                a.checksum = opt(&a.checksum)?;
                a.sources = self.sources(&a.sources, line)?;
                InstructionKind::Add(a)
            }
            InstructionKind::Copy(c) => {
                let mut c = c.clone();
                c.chown = opt(&c.chown)?;
                c.chmod = opt(&c.chmod)?;
                c.sources = self.sources(&c.sources, line)?;
                InstructionKind::Copy(c)
            }
            InstructionKind::Workdir(p) => InstructionKind::Workdir(w(p)?),
            InstructionKind::User(u) => InstructionKind::User(w(u)?),
            InstructionKind::StopSignal(s) => InstructionKind::StopSignal(w(s)?),
            InstructionKind::Volume(v) => {
                InstructionKind::Volume(v.iter().map(|x| w(x)).collect::<Result<_>>()?)
            }
            InstructionKind::Expose(ports) => {
                let lex = Lex::new(self.escape);
                let mut out = Vec::new();
                for p in ports {
                    out.extend(
                        lex.process_words(p, &self.env)
                            .map_err(|m| step_error(&self.file, line, m))?,
                    );
                }
                InstructionKind::Expose(out)
            }
            InstructionKind::Run(r) => {
                let mut r = r.clone();
                let expand = |v: &str| self.word(v, line).map_err(|e| e.to_string());
                r.mounts = r
                    .mounts
                    .iter()
                    .map(|m| Mount::parse(&m.spec, &expand))
                    .collect::<std::result::Result<_, _>>()
                    .map_err(|m| step_error(&self.file, line, m))?;
                InstructionKind::Run(r)
            }
            other => other.clone(),
        };
        Ok(Instruction { kind, ..i.clone() })
    }

    fn key_values(&self, kvs: &[KeyValue], line: usize) -> Result<Vec<KeyValue>> {
        kvs.iter()
            .map(|kv| {
                Ok(KeyValue {
                    key: self.word(&kv.key, line)?,
                    value: self.word(&kv.value, line)?,
                    legacy: kv.legacy,
                })
            })
            .collect()
    }

    fn sources(&self, s: &Sources, line: usize) -> Result<Sources> {
        let mut out = s.clone();
        out.paths = s
            .paths
            .iter()
            .map(|p| self.word(p, line))
            .collect::<Result<_>>()?;
        out.dest = self.word(&s.dest, line)?;
        // Heredoc bodies: variables and `\` escapes only, quotes are text.
        let mut raw = Lex::new('\\');
        raw.skip_process_quotes = true;
        for src in out.inline.iter_mut().filter(|s| s.expand) {
            src.data = raw
                .process_word(&src.data, &self.env)
                .map_err(|m| step_error(&self.file, line, m))?
                .result;
        }
        Ok(out)
    }

    /// The environment of a RUN step: the stage's variables, then the proxy build args.
    pub fn run_env(&self, build_args: &BuildArgs) -> Vec<String> {
        let mut env = self.env.clone();
        for p in PROXY_ARGS {
            if let (Some(v), None) = (build_args.get(p), env.get(p)) {
                env.set(p, v);
            }
        }
        env.to_env_list()
    }

    /// The build args a RUN step's history names (`|N K=V …`), as Podman writes them:
    /// declared ARGs that have a value, an ENV of the same name taking precedence, sorted.
    pub fn history_args(&self) -> Vec<String> {
        let mut last: BTreeMap<&str, &str> = BTreeMap::new();
        for a in &self.args {
            if let Some(v) = &a.value {
                last.insert(&a.key, v);
            }
        }
        let mut out: Vec<String> = last
            .into_iter()
            .map(|(k, v)| format!("{k}={}", self.config_env.get(k).unwrap_or(v)))
            .collect();
        out.sort();
        out
    }

    /// The names of the declared ARGs that have a value, sorted (Podman's ARG history).
    pub fn arg_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .args
            .iter()
            .filter(|a| a.value.is_some())
            .map(|a| a.key.clone())
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }
}

/// `--build-arg` names no ARG declares (the proxy args excepted), sorted.
pub fn unused_build_args(cf: &Containerfile, build_args: &BuildArgs) -> Vec<String> {
    let declared = cf.declared_args();
    build_args
        .keys()
        .filter(|k| !PROXY_ARGS.contains(k) && !declared.contains(k))
        .map(str::to_string)
        .collect()
}

/// Podman's warning for unused build args, or nothing.
pub fn unused_warning(unused: &[String]) -> Option<String> {
    if unused.is_empty() {
        return None;
    }
    Some(format!(
        "[Warning] one or more build args were not consumed: [{}]",
        unused.join(" ")
    ))
}

//! One stage: FROM, then each instruction as a step (cache lookup, else execution and a
//! new image), with Podman's `STEP n/m:` lines.

use serde_json::{Value, json};

use super::image::{NewStep, StepImage};
use super::{Build, stage_ref};
use crate::build::cache::{CacheKey, Step};
use crate::build::expand::{StageScope, Vars};
use crate::build::parse::{Healthcheck, Instruction, InstructionKind};
use crate::container::CommitFormat;
use crate::error::{Error, Result};

/// Buildah's `PATH` for an image that sets none.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The state of a stage between steps.
pub(super) struct StageState {
    pub index: usize,
    pub image: StepImage,
    /// The FROM line's image (expanded) and the id it resolved to: the first working
    /// container is named after it, later ones after their parent's id (as Buildah).
    pub base: (String, Option<String>),
    pub scope: StageScope,
    pub shell: Vec<String>,
    /// CMD was set in this stage (ENTRYPOINT then keeps it).
    pub cmd_set: bool,
    /// Settings of the whole build that are in every step's key (`--env`, `--label`, …).
    pub settings: String,
}

impl Build<'_, '_> {
    /// Runs stage `i`; its final image.
    pub(super) fn run_stage(
        &mut self,
        i: usize,
        is_target: bool,
        tags: &[String],
    ) -> Result<StepImage> {
        let stage = self.cf.stages[i].clone();
        let prefix = self.prefix(i);
        let total = stage.instructions.len() + 1;
        self.output
            .line(&format!("{prefix}STEP 1/{total}: {}", stage.code()));
        let (base, _platform) = self.global.expand_from(&stage)?;
        let mut image = self
            .base_image(&base, i)
            .map_err(|e| wrap(e, "creating build container: "))?;
        self.base_layers[i] = image.record.as_ref().map_or(0, |r| r.layers.len());
        let triggers = onbuild_triggers(&image, &self.cf.file)?;
        if let Some(c) = image.config["config"].as_object_mut() {
            c.remove("OnBuild");
        }
        self.apply_build_settings(&mut image);
        let base_env = image.cfg_list("Env");
        let scope = StageScope::new(&self.cf, &base_env);
        let base_id = image.record.as_ref().map(|r| r.id.clone());
        let mut st = StageState {
            index: i,
            base: (base.clone(), base_id),
            image,
            scope,
            shell: vec!["/bin/sh".into(), "-c".into()],
            cmd_set: false,
            settings: self.settings_digest(),
        };
        // The base's ONBUILD triggers run first, as steps of their own: Buildah counts
        // them from here on (`STEP 1/3: FROM …`, then `STEP 2/5: RUN <trigger>`).
        let steps: Vec<&Instruction> = triggers.iter().chain(&stage.instructions).collect();
        let total = steps.len() + 1;
        let n = steps.len();
        for (k, ins) in steps.into_iter().enumerate() {
            self.output
                .line(&format!("{prefix}STEP {}/{total}: {}", k + 2, ins.code()));
            let last = k + 1 == n;
            let hit = self
                .step(&mut st, ins)
                .map_err(|e| wrap(e, &format!("building at STEP \"{}\": ", ins.code())))?;
            if let Some(id) = &hit {
                self.output.line(&format!("--> Using cache {id}"));
            }
            if last && is_target {
                break;
            }
            if let Some(rec) = &st.image.record
                && self.opts.layers
            {
                self.output.line(&format!("--> {}", &rec.id[..11]));
            }
        }
        if is_target {
            let name = self.opts.tags.first().map(String::as_str).unwrap_or("");
            let line = format!("{prefix}COMMIT {name}");
            self.output.line(line.trim_end());
            let _ = tags;
        }
        Ok(st.image)
    }

    /// The image a stage starts from: scratch, an earlier stage, or an image (pulled as
    /// `--pull` says).
    fn base_image(&self, base: &str, current: usize) -> Result<StepImage> {
        if base.eq_ignore_ascii_case("scratch") {
            return Ok(StepImage::scratch());
        }
        if let Some(j) = stage_ref(&self.cf, base, current)
            && !base.chars().all(|c| c.is_ascii_digit())
        {
            return self.stages[j]
                .clone()
                .ok_or_else(|| Error::other(format!("stage {base:?} was not built")));
        }
        self.image_by_ref(base)
    }

    /// An image by reference, pulled per the policy.
    pub(super) fn image_by_ref(&self, reference: &str) -> Result<StepImage> {
        let name = self.engine.ensure_image(
            reference,
            self.opts.pull,
            &self.opts.pull_template,
            self.output.progress,
        )?;
        let rec = self.engine.resolve_image(&name)?;
        self.engine.step_image(rec)
    }

    /// `--env`, `--unsetenv` and `--label` on a stage's starting config; a default `PATH`
    /// when the base has none (as Buildah sets it).
    fn apply_build_settings(&self, image: &mut StepImage) {
        let env = image.cfg_list("Env");
        if !env.iter().any(|e| e.starts_with("PATH=")) {
            let mut with_path = vec![format!("PATH={DEFAULT_PATH}")];
            with_path.extend(env);
            image.cfg().insert("Env".into(), json!(with_path));
        }
        if self.opts.env.is_empty() && self.opts.unsetenv.is_empty() && self.opts.labels.is_empty()
        {
            return;
        }
        let mut env = Vars::from_env_list(&image.cfg_list("Env"));
        for e in &self.opts.env {
            match e.split_once('=') {
                Some((k, v)) => env.set(k, v),
                None => {
                    if let Ok(v) = std::env::var(e) {
                        env.set(e, &v)
                    }
                }
            }
        }
        let kept: Vec<String> = env
            .to_env_list()
            .into_iter()
            .filter(|kv| {
                let k = kv.split('=').next().unwrap_or("");
                !self.opts.unsetenv.iter().any(|u| u == k)
            })
            .collect();
        let labels: Vec<(String, String)> = self
            .opts
            .labels
            .iter()
            .map(|l| match l.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (l.clone(), String::new()),
            })
            .collect();
        let cfg = image.cfg();
        cfg.insert("Env".into(), json!(kept));
        if !labels.is_empty() {
            let map = cfg.entry("Labels").or_insert_with(|| json!({}));
            if !map.is_object() {
                *map = json!({});
            }
            for (k, v) in labels {
                map[k] = Value::String(v);
            }
        }
    }

    /// The build-wide settings every step's key carries.
    fn settings_digest(&self) -> String {
        let o = self.opts;
        format!(
            "format={:?} env={:?} unsetenv={:?} labels={:?} timestamp={:?} volumes={:?} network={:?}",
            o.format, o.env, o.unsetenv, o.labels, o.timestamp, o.volumes, o.network
        )
    }

    /// One step; `Some(id)` when the cache answered.
    fn step(&mut self, st: &mut StageState, ins: &Instruction) -> Result<Option<String>> {
        let expanded = match &ins.kind {
            InstructionKind::Arg(decls) => {
                st.scope
                    .declare(decls, ins.line, &self.global, &self.build_args)?;
                ins.clone()
            }
            _ => st.scope.expand(ins)?,
        };
        let copy = match &expanded.kind {
            InstructionKind::Copy(_) | InstructionKind::Add(_) => {
                Some(self.prepare_copy(st, &expanded)?)
            }
            _ => None,
        };
        let parent_id = st.image.id().to_string();
        let key = CacheKey::new(&Step {
            parent: &parent_id,
            written: ins,
            expanded: &expanded,
            scope: &st.scope,
            content: copy.as_ref().map(|c| c.content.as_str()),
            ignore: copy
                .as_ref()
                .and_then(|c| c.from_context.then_some(self.ignore.patterns.as_slice())),
        })
        .with("settings", &st.settings)
        .with("parent-config", &parent_config_digest(&st.image));
        let key = match &expanded.kind {
            InstructionKind::Run(r) => {
                let mut k = key.with("run-network", &format!("{:?}", r.network));
                for m in &r.mounts {
                    if let Some(d) = self.bind_mount_digest(st, m)? {
                        k = k.with("bind-mount", &d);
                    }
                }
                k
            }
            _ => key,
        };
        let created_by = key.created_by.clone();
        let digest = key.digest();
        let use_cache = self.opts.layers && !self.opts.no_cache;
        if use_cache && let Some(hit) = self.engine.cache_lookup(&digest)? {
            st.image = hit;
            self.after_step(st, &expanded);
            return Ok(Some(st.image.id().to_string()));
        }
        let mut config = st.image.config.clone();
        let mut next = StepImage {
            record: st.image.record.clone(),
            config: std::mem::take(&mut config),
        };
        self.apply_config(st, &mut next, &expanded)?;
        let new = match (&expanded.kind, copy) {
            (InstructionKind::Run(r), _) => self.exec_run(st, ins, r, next.config, created_by)?,
            (_, Some(c)) => self.exec_copy(st, &expanded, c, next.config, created_by)?,
            _ => self.engine.store_step(NewStep {
                parent: &st.image,
                config: next.config,
                created_by,
                upper: None,
                format: self.opts.format,
                created: self.created(),
                file_time: self.opts.timestamp,
                comment: None,
            })?,
        };
        let id = new.id().to_string();
        if self.opts.layers {
            self.engine.cache_store(&digest, &id)?;
        } else {
            self.made.push(id);
        }
        st.image = new;
        self.after_step(st, &expanded);
        Ok(None)
    }

    /// What a step changes in the stage's scope and shell.
    fn after_step(&self, st: &mut StageState, expanded: &Instruction) {
        st.scope.apply(expanded);
        match &expanded.kind {
            InstructionKind::Shell(s) => st.shell = s.clone(),
            InstructionKind::Cmd(_) => st.cmd_set = true,
            _ => {}
        }
    }

    /// The creation time of the images (`--timestamp`, else now).
    pub(super) fn created(&self) -> String {
        let t = match self.opts.timestamp {
            Some(s) => chrono::DateTime::from_timestamp(s, 0).unwrap_or_default(),
            None => chrono::Utc::now(),
        };
        t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
    }

    /// A stage that made no image of its own (a FROM only, on scratch or with settings):
    /// committed as one empty step.
    pub(super) fn commit_bare(&self, img: &StepImage) -> Result<StepImage> {
        self.engine.store_step(NewStep {
            parent: img,
            config: img.config.clone(),
            created_by: "/bin/sh -c #(nop) FROM scratch".into(),
            upper: None,
            format: self.opts.format,
            created: self.created(),
            file_time: self.opts.timestamp,
            comment: None,
        })
    }

    /// The config after an instruction (RUN, COPY, ADD and ARG leave it alone).
    fn apply_config(&self, st: &StageState, next: &mut StepImage, ins: &Instruction) -> Result<()> {
        let shell_form = |c: &crate::build::parse::CommandLine| -> Vec<String> {
            if c.prepend_shell {
                st.shell
                    .iter()
                    .cloned()
                    .chain(c.args.iter().cloned())
                    .collect()
            } else {
                c.args.clone()
            }
        };
        let docker = self.opts.format == CommitFormat::Docker;
        match &ins.kind {
            InstructionKind::Env(_) => {
                let mut scope = st.scope.clone();
                scope.apply(ins);
                next.cfg()
                    .insert("Env".into(), json!(scope.config_env().to_env_list()));
            }
            InstructionKind::Label(kvs) => {
                let cfg = next.cfg();
                let map = cfg.entry("Labels").or_insert_with(|| json!({}));
                if !map.is_object() {
                    *map = json!({});
                }
                for kv in kvs {
                    map[kv.key.as_str()] = Value::String(kv.value.clone());
                }
            }
            InstructionKind::Workdir(w) => {
                let cur = next.cfg_str("WorkingDir");
                let joined = if w.starts_with('/') {
                    w.clone()
                } else {
                    format!("{}/{w}", if cur.is_empty() { "/" } else { &cur })
                };
                next.cfg()
                    .insert("WorkingDir".into(), json!(crate::build::go_clean(&joined)));
            }
            InstructionKind::User(u) => {
                next.cfg().insert("User".into(), json!(u));
            }
            InstructionKind::Expose(ports) => {
                let cfg = next.cfg();
                let map = cfg.entry("ExposedPorts").or_insert_with(|| json!({}));
                if !map.is_object() {
                    *map = json!({});
                }
                for p in ports {
                    let p = if p.contains('/') {
                        p.clone()
                    } else {
                        format!("{p}/tcp")
                    };
                    map[p.as_str()] = json!({});
                }
            }
            InstructionKind::Volume(vols) => {
                let cfg = next.cfg();
                let map = cfg.entry("Volumes").or_insert_with(|| json!({}));
                if !map.is_object() {
                    *map = json!({});
                }
                for v in vols {
                    map[v.as_str()] = json!({});
                }
            }
            InstructionKind::Cmd(c) => {
                next.cfg().insert("Cmd".into(), json!(shell_form(c)));
            }
            InstructionKind::Entrypoint(c) => {
                let cfg = next.cfg();
                cfg.insert("Entrypoint".into(), json!(shell_form(c)));
                if !st.cmd_set {
                    cfg.remove("Cmd");
                }
            }
            InstructionKind::Shell(s) => {
                next.cfg().insert("Shell".into(), json!(s));
            }
            InstructionKind::StopSignal(s) => {
                next.cfg().insert("StopSignal".into(), json!(s));
            }
            InstructionKind::Healthcheck(h) => {
                if !docker {
                    self.output.warn("WARN[0000] HEALTHCHECK is not supported for OCI image format and will be ignored. Must use `docker` format");
                }
                next.cfg().insert("Healthcheck".into(), healthcheck_json(h));
            }
            InstructionKind::Onbuild(o) => {
                if !docker {
                    self.output.warn("WARN[0000] ONBUILD is not supported for OCI image format, ONBUILD will be ignored. Must use `docker` format");
                }
                let cfg = next.cfg();
                let list = cfg.entry("OnBuild").or_insert_with(|| json!([]));
                if !list.is_array() {
                    *list = json!([]);
                }
                if let Some(a) = list.as_array_mut() {
                    a.push(json!(o.expression));
                }
            }
            InstructionKind::Maintainer(m) => {
                next.config["author"] = json!(m);
            }
            InstructionKind::Arg(_)
            | InstructionKind::Run(_)
            | InstructionKind::Copy(_)
            | InstructionKind::Add(_) => {}
        }
        Ok(())
    }
}

/// `e` with Podman's context in front (a failed RUN already has it, with its exit code).
fn wrap(e: Error, prefix: &str) -> Error {
    match e {
        Error::Command { .. } => e,
        Error::InvalidArgument(m) => Error::InvalidArgument(format!("{prefix}{m}")),
        Error::NoSuchImage(m) => Error::InvalidArgument(format!("{prefix}{m}: image not known")),
        other => Error::Other(format!("{prefix}{other}")),
    }
}

/// The Docker config's `Healthcheck`.
fn healthcheck_json(h: &Healthcheck) -> Value {
    match h {
        Healthcheck::None => json!({"Test": ["NONE"]}),
        Healthcheck::Check {
            test,
            interval,
            timeout,
            start_period,
            start_interval,
            retries,
        } => {
            let mut v = json!({"Test": test});
            for (k, d) in [
                ("Interval", interval),
                ("Timeout", timeout),
                ("StartPeriod", start_period),
                ("StartInterval", start_interval),
            ] {
                if !d.is_zero() {
                    v[k] = json!(d.as_nanos() as u64);
                }
            }
            if *retries > 0 {
                v["Retries"] = json!(retries);
            }
            v
        }
    }
}

/// A digest of the config a step starts from, for the case of a stage start that changed
/// the base's config (`--env`, ONBUILD removal) without an image of its own.
fn parent_config_digest(img: &StepImage) -> String {
    use sha2::Digest as _;
    let bytes = serde_json::to_vec(&img.config["config"]).unwrap_or_default();
    hex::encode(sha2::Sha256::digest(&bytes))
}

/// The ONBUILD triggers of a base image, parsed.
fn onbuild_triggers(image: &StepImage, file: &str) -> Result<Vec<Instruction>> {
    let triggers = image.cfg_list("OnBuild");
    if triggers.is_empty() {
        return Ok(Vec::new());
    }
    let text = format!("FROM scratch\n{}\n", triggers.join("\n"));
    let cf = crate::build::parse::parse(&format!("{file} (ONBUILD of the base image)"), &text)?;
    Ok(cf
        .stages
        .into_iter()
        .next()
        .map(|s| s.instructions)
        .unwrap_or_default())
}

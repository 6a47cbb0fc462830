//! `container runlabel LABEL IMAGE`: the command an image carries in a label (`INSTALL`,
//! `RUN`, `UNINSTALL`…), with Podman's substitutions: `${IMAGE}` (the image's name),
//! `${NAME}` (`--name`, else the image's short name), `${OPT1}`–`${OPT3}`, other variables
//! from the environment; a leading `podman` or `/usr/bin/podman` becomes this engine's
//! binary.

use crate::Engine;
use crate::error::{Error, Result};

/// What `runlabel` substitutes.
#[derive(Debug, Clone, Default)]
pub struct RunlabelRequest {
    pub label: String,
    pub image: String,
    /// `--name`.
    pub name: Option<String>,
    pub opt1: Option<String>,
    pub opt2: Option<String>,
    pub opt3: Option<String>,
    /// The binary a leading `podman` stands for.
    pub self_exe: String,
}

impl Engine {
    /// The label's command, expanded and split into words.
    pub fn runlabel_command(&self, req: &RunlabelRequest) -> Result<Vec<String>> {
        let image = self.resolve_image(&req.image)?;
        let labels = self
            .image_config(&image)?
            .config()
            .clone()
            .and_then(|c| c.labels().clone())
            .unwrap_or_default();
        let text = labels
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&req.label))
            .map(|(_, v)| v.clone())
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| {
                Error::invalid(format!(
                    "cannot find the value of label: {} in image: {}",
                    req.label, req.image
                ))
            })?;
        let image_name = self
            .image_display_name(&req.image, &image)
            .or_else(|| image.names.first().cloned())
            .unwrap_or_else(|| image.id.clone());
        let name = req.name.clone().unwrap_or_else(|| short_name(&image_name));
        let expanded = expand(&text, |var| match var {
            "IMAGE" => Some(image_name.clone()),
            "NAME" => Some(name.clone()),
            "OPT1" => Some(req.opt1.clone().unwrap_or_default()),
            "OPT2" => Some(req.opt2.clone().unwrap_or_default()),
            "OPT3" => Some(req.opt3.clone().unwrap_or_default()),
            other => std::env::var(other).ok(),
        });
        let mut words: Vec<String> = expanded.split_whitespace().map(str::to_string).collect();
        if let Some(first) = words.first_mut()
            && (first == "podman" || first == "/usr/bin/podman")
        {
            *first = req.self_exe.clone();
        }
        Ok(words)
    }
}

/// `localhost/runlabel_image:latest` → `runlabel_image`.
fn short_name(name: &str) -> String {
    let last = name.rsplit('/').next().unwrap_or(name);
    let last = last.split('@').next().unwrap_or(last);
    last.split(':').next().unwrap_or(last).to_string()
}

/// Go's `os.Expand`: `$VAR` and `${VAR}`; unknown variables become empty.
fn expand(s: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (var, len) = if let Some(braced) = after.strip_prefix('{') {
            match braced.find('}') {
                Some(end) => (&braced[..end], end + 2),
                None => {
                    // Go: a bad `${` is dropped with the rest of the name.
                    ("", after.len())
                }
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], end)
        };
        if len == 0 {
            out.push('$');
        } else {
            out.push_str(&lookup(var).unwrap_or_default());
        }
        rest = &after[len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_as_go_and_shortens_names() {
        let look = |v: &str| (v == "A").then(|| "x".to_string());
        assert_eq!(expand("a ${A} $A ${B}b $", look), "a x x b $");
        assert_eq!(
            short_name("localhost/runlabel_image:latest"),
            "runlabel_image"
        );
        assert_eq!(short_name("quay.io/a/b@sha256:00"), "b");
    }
}

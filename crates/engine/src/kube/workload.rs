//! The workload kinds `kube play` runs (Pod, Deployment, DaemonSet, Job): what pods each
//! asks for, how they are named, which existing pods a teardown takes, and the bound on
//! how many one play creates.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod as KubePod, PodTemplateSpec};

use super::{Document, typed};
use crate::container::restart::RestartPolicy;
use crate::error::{Error, Result};

/// The most pods one play creates, all documents together. Each pod is an infra and at
/// least one container, each with its monitor, network namespace and address; a thousand
/// is more than a single host runs comfortably, and far fewer than `replicas:
/// 2147483647`, which used to be allocated up front and abort.
pub const MAX_PODS: u64 = 1000;

/// What a workload document says, whatever its kind.
pub(super) struct Workload {
    pub doc: Document,
    pub template: PodTemplateSpec,
    pub forced_restart: Option<RestartPolicy>,
    pub default_restart: RestartPolicy,
    /// The pod's name (a Pod), or `NAME-pod` (a Deployment, DaemonSet or Job).
    pub base: String,
    /// A Deployment's `spec.replicas` (1 when unset); None for the other kinds.
    pub replicas: Option<u32>,
}

impl Workload {
    /// How many pods it asks for.
    pub fn count(&self) -> u32 {
        self.replicas.unwrap_or(1)
    }

    /// The name of pod `i`: `NAME-pod-i` when a Deployment has other than one replica.
    pub fn pod_name(&self, i: u32) -> String {
        match self.replicas {
            Some(n) if n != 1 => format!("{}-{i}", self.base),
            _ => self.base.clone(),
        }
    }

    /// Whether a pod named `pod` is one that a play of this document makes, whatever
    /// `replicas` said then: a Deployment's `NAME-pod` and `NAME-pod-N`.
    pub fn owns(&self, pod: &str) -> bool {
        if pod == self.base {
            return true;
        }
        let replica = pod
            .strip_prefix(self.base.as_str())
            .and_then(|r| r.strip_prefix('-'));
        self.replicas.is_some()
            && replica.is_some_and(|n| {
                !n.is_empty()
                    && n.bytes().all(|b| b.is_ascii_digit())
                    && (n == "0" || !n.starts_with('0'))
            })
    }
}

/// The pods a workload document describes; None if `doc` is not a workload kind.
pub(super) fn workload(yaml: &str, doc: &Document) -> Result<Option<Workload>> {
    let label = doc.label();
    let template = |t: Option<PodTemplateSpec>| -> Result<PodTemplateSpec> {
        t.ok_or_else(|| Error::invalid(format!("{label}: spec.template: missing")))
    };
    let w = match doc.kind.as_str() {
        "Pod" => {
            let p: KubePod = typed(yaml, doc)?;
            Workload {
                doc: doc.clone(),
                base: need_name(doc)?,
                replicas: None,
                template: PodTemplateSpec {
                    metadata: Some(p.metadata),
                    spec: p.spec,
                },
                forced_restart: None,
                default_restart: RestartPolicy::Always,
            }
        }
        "Deployment" => {
            let d: Deployment = typed(yaml, doc)?;
            let name = need_name(doc)?;
            let spec = d
                .spec
                .ok_or_else(|| Error::invalid(format!("{label}: spec: missing")))?;
            let replicas = spec.replicas.unwrap_or(1);
            // Podman clamps replicas to one; peapod runs them all (distinct names, same
            // template), which is what a cluster would do, up to MAX_PODS.
            let replicas = u32::try_from(replicas).map_err(|_| {
                Error::invalid(format!("{label}: spec.replicas: {replicas} is negative"))
            })?;
            Workload {
                doc: doc.clone(),
                base: format!("{name}-pod"),
                replicas: Some(replicas),
                template: spec.template,
                forced_restart: Some(RestartPolicy::Always),
                default_restart: RestartPolicy::Always,
            }
        }
        "DaemonSet" => {
            let d: DaemonSet = typed(yaml, doc)?;
            let name = need_name(doc)?;
            let spec = d
                .spec
                .ok_or_else(|| Error::invalid(format!("{label}: spec: missing")))?;
            Workload {
                doc: doc.clone(),
                base: format!("{name}-pod"),
                replicas: None,
                template: spec.template,
                forced_restart: Some(RestartPolicy::Always),
                default_restart: RestartPolicy::Always,
            }
        }
        "Job" => {
            let j: Job = typed(yaml, doc)?;
            let name = need_name(doc)?;
            let spec = j
                .spec
                .ok_or_else(|| Error::invalid(format!("{label}: spec: missing")))?;
            Workload {
                doc: doc.clone(),
                base: format!("{name}-pod"),
                replicas: None,
                template: template(Some(spec.template))?,
                forced_restart: None,
                default_restart: RestartPolicy::No,
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(w))
}

/// At most [`MAX_PODS`] pods in one play, counted before anything is planned.
pub(super) fn check_pod_count(workloads: &[Workload]) -> Result<()> {
    let mut total: u64 = 0;
    for w in workloads {
        let n = u64::from(w.count());
        total += n;
        if n > MAX_PODS {
            return Err(Error::invalid(format!(
                "{}: spec.replicas: {n} is more than one play runs (at most {MAX_PODS} pods, created one at a time)",
                w.doc.label()
            )));
        }
        if total > MAX_PODS {
            return Err(Error::invalid(format!(
                "{}: its {n} pods bring the file to {total}: one play runs at most {MAX_PODS} pods",
                w.doc.label()
            )));
        }
    }
    Ok(())
}

/// `metadata.name`, which the kind needs.
pub(super) fn need_name(doc: &Document) -> Result<String> {
    if doc.name.is_empty() {
        return Err(Error::invalid(format!(
            "{}: metadata.name: missing",
            doc.label()
        )));
    }
    Ok(doc.name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube::documents;

    fn names(yaml: &str) -> Vec<String> {
        let mut out = Vec::new();
        for d in documents(yaml).unwrap() {
            if let Some(w) = workload(yaml, &d).unwrap() {
                out.extend((0..w.count()).map(|i| w.pod_name(i)));
            }
        }
        out
    }

    #[test]
    fn pod_names_per_kind() {
        let y = "kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i}]}\n---\nkind: Deployment\nmetadata: {name: d}\nspec:\n  replicas: 3\n  selector: {}\n  template: {spec: {containers: [{name: c, image: i}]}}\n---\nkind: Deployment\nmetadata: {name: one}\nspec:\n  selector: {}\n  template: {spec: {containers: [{name: c, image: i}]}}\n---\nkind: DaemonSet\nmetadata: {name: ds}\nspec:\n  selector: {}\n  template: {spec: {containers: [{name: c, image: i}]}}\n---\nkind: Job\nmetadata: {name: j}\nspec:\n  template: {spec: {containers: [{name: c, image: i}]}}\n";
        assert_eq!(
            names(y),
            [
                "p", "d-pod-0", "d-pod-1", "d-pod-2", "one-pod", "ds-pod", "j-pod"
            ]
        );
    }

    fn deployment(replicas: &str) -> Workload {
        let y = format!(
            "kind: Deployment\nmetadata: {{name: web}}\nspec:\n  {replicas}\n  selector: {{}}\n  template: {{spec: {{containers: [{{name: c, image: i}}]}}}}\n"
        );
        let d = documents(&y).unwrap();
        workload(&y, &d[0]).unwrap().unwrap()
    }

    /// Teardown finds every replica a play of the Deployment made, whatever `replicas`
    /// was then, and nothing else.
    #[test]
    fn a_deployment_owns_its_replicas_by_name() {
        for w in [
            deployment("replicas: 1"),
            deployment("replicas: 3"),
            deployment(""),
        ] {
            for p in ["web-pod", "web-pod-0", "web-pod-2", "web-pod-17"] {
                assert!(w.owns(p), "{p}");
            }
            for p in [
                "web",
                "web-pod-",
                "web-pod-01",
                "web-pod-x",
                "web-pod-1-2",
                "web-podx",
                "other-pod-1",
            ] {
                assert!(!w.owns(p), "{p}");
            }
        }
        let y = "kind: Pod\nmetadata: {name: web-pod}\nspec: {containers: [{name: c, image: i}]}\n";
        let pod = workload(y, &documents(y).unwrap()[0]).unwrap().unwrap();
        assert!(pod.owns("web-pod") && !pod.owns("web-pod-1"));
    }

    #[test]
    fn replicas_are_bounded() {
        let w = deployment("replicas: 2147483647");
        assert_eq!(w.count(), 2147483647);
        let e = check_pod_count(&[w]).unwrap_err().to_string();
        assert_eq!(
            e,
            "document 1 (Deployment \"web\"): spec.replicas: 2147483647 is more than one play runs (at most 1000 pods, created one at a time)"
        );
        assert!(check_pod_count(&[deployment("replicas: 1000")]).is_ok());
        let e = check_pod_count(&[deployment("replicas: 600"), deployment("replicas: 600")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("bring the file to 1200"), "{e}");
        let e = match workload_result("replicas: -1") {
            Err(e) => e.to_string(),
            Ok(_) => panic!("negative replicas accepted"),
        };
        assert!(e.ends_with("spec.replicas: -1 is negative"), "{e}");
    }

    fn workload_result(replicas: &str) -> Result<Option<Workload>> {
        let y = format!(
            "kind: Deployment\nmetadata: {{name: web}}\nspec:\n  {replicas}\n  selector: {{}}\n  template: {{spec: {{containers: [{{name: c, image: i}}]}}}}\n"
        );
        let d = documents(&y).unwrap();
        workload(&y, &d[0])
    }
}

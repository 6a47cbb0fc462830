//! `kube play` (POST `/libpod/play/kube`, also `/libpod/kube/play`), `kube down` (DELETE
//! on the same paths) and `generate kube` (GET `/libpod/generate/kube`, also
//! `/libpod/kube/generate`): the YAML in the body or the answer, Podman's
//! `PlayKubeReport` as JSON.

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use peapod_engine::image::registry::{Platform, PullOptions, Silent, Tls};
use peapod_engine::kube::{GenerateOptions, PlayOptions, PlayReport, TeardownReport};
use peapod_engine::{Engine, Error};
use serde_json::{Value, json};

use super::error_body;
use crate::http::{Resp, bytes, flag, json, query, query_all, read_body};
use crate::pool::EnginePool;

/// What the query of a play asks for, besides the YAML.
#[derive(Debug, Clone, Default)]
struct PlayQuery {
    networks: Vec<String>,
    start: bool,
    log_driver: Option<String>,
    tls_verify: Option<bool>,
    annotations: Vec<String>,
}

fn play_query(req: &Request<Incoming>) -> Result<PlayQuery, Error> {
    let q = query(req);
    let annotations = match q.get("annotations").filter(|a| !a.is_empty()) {
        None => Vec::new(),
        Some(a) => {
            let map: std::collections::BTreeMap<String, String> = serde_json::from_str(a)
                .map_err(|e| Error::invalid(format!("invalid annotations {a:?}: {e}")))?;
            map.into_iter().map(|(k, v)| format!("{k}={v}")).collect()
        }
    };
    Ok(PlayQuery {
        networks: query_all(req, "network"),
        start: q.get("start").is_none_or(|s| s != "false"),
        log_driver: q.get("logDriver").filter(|d| !d.is_empty()).cloned(),
        tls_verify: q.get("tlsVerify").map(|v| v != "false"),
        annotations,
    })
}

fn play_blocking(e: &Engine, yaml: &str, q: PlayQuery) -> Result<PlayReport, Error> {
    for a in &q.annotations {
        peapod_engine::kube::check_play_annotation(a)?;
    }
    let opts = PlayOptions {
        replace: false,
        start: q.start,
        network: peapod_engine::network::NetworkMode::parse(&q.networks)?,
        configmaps: Vec::new(),
        log_driver: q
            .log_driver
            .as_deref()
            .map(peapod_engine::container::LogDriver::parse)
            .transpose()?,
        create_command: Vec::new(),
        annotations: q.annotations.clone(),
        service_container: false,
    };
    // The file's images first, as Podman's server pulls them before a play.
    let template = PullOptions {
        reference: String::new(),
        platform: Platform::choose(None, None, None, None)?,
        all_tags: false,
        tls: Tls {
            verify: q.tls_verify,
            ..Tls::default()
        },
        authfile: None,
        creds: None,
    };
    e.ensure_kube_images(yaml, None, &template, &Silent, &[])?;
    e.play_kube(yaml, &opts)
}

/// Podman's `PlayKubeTeardown` fields.
fn teardown_json(t: Option<&TeardownReport>) -> (Value, Value) {
    match t {
        None => (Value::Null, Value::Null),
        Some(t) => (
            t.stopped
                .iter()
                .map(|id| json!({ "Errs": null, "Id": id }))
                .collect(),
            t.removed
                .iter()
                .map(|id| json!({ "Err": null, "Id": id }))
                .collect(),
        ),
    }
}

/// Podman's `PlayKubeReport`.
fn report_json(r: &PlayReport) -> Value {
    let pods: Vec<Value> = r
        .pods
        .iter()
        .map(|p| {
            json!({
                "ID": p.id,
                "Containers": p.containers,
                "InitContainers": p.init_containers,
                "Logs": null,
                "ContainerErrors": null,
            })
        })
        .collect();
    let volumes: Vec<Value> = r.volumes.iter().map(|v| json!({ "Name": v })).collect();
    let (stop, rm) = teardown_json(r.teardown.as_ref());
    json!({
        "Pods": pods,
        "Volumes": volumes,
        "StopReport": stop,
        "RmReport": rm,
        "Secrets": null,
    })
}

/// The body as the YAML text; a 400 in Podman's words otherwise.
async fn yaml_body(req: Request<Incoming>) -> Result<String, Resp> {
    let body = read_body(req)
        .await
        .map_err(|m| error_body(StatusCode::BAD_REQUEST, &m))?;
    String::from_utf8(body.to_vec()).map_err(|_| {
        error_body(
            StatusCode::BAD_REQUEST,
            "the request body is not UTF-8 text: not a YAML document",
        )
    })
}

/// POST `/libpod/play/kube?network=&start=&logDriver=&tlsVerify=&annotations=`.
pub async fn play(req: Request<Incoming>, pool: EnginePool) -> Resp {
    let q = match play_query(&req) {
        Ok(q) => q,
        Err(e) => return error_body(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let yaml = match yaml_body(req).await {
        Ok(y) => y,
        Err(r) => return r,
    };
    match pool.run(move |e| play_blocking(e, &yaml, q)).await {
        Ok(r) => json(StatusCode::OK, &report_json(&r)),
        // Podman answers every failure of a play with 500 and these words.
        Err(e) => error_body(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("playing YAML file: {e}"),
        ),
    }
}

/// DELETE `/libpod/play/kube`: the pods the YAML describes stopped and removed.
pub async fn down(req: Request<Incoming>, pool: EnginePool) -> Resp {
    let yaml = match yaml_body(req).await {
        Ok(y) => y,
        Err(r) => return r,
    };
    match pool.run(move |e| e.kube_down(&yaml)).await {
        Ok(t) => {
            let (stop, rm) = teardown_json(Some(&t));
            json(
                StatusCode::OK,
                &json!({
                    "Pods": null,
                    "Volumes": null,
                    "StopReport": stop,
                    "RmReport": rm,
                    "Secrets": null,
                }),
            )
        }
        Err(e) => error_body(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("tearing down YAML file: {e}"),
        ),
    }
}

/// GET `/libpod/generate/kube?names=A&names=B&service=`: the YAML itself.
pub async fn generate(req: Request<Incoming>, pool: EnginePool) -> Resp {
    let names = query_all(&req, "names");
    let opts = GenerateOptions {
        service: flag(&query(&req), "service"),
        ..Default::default()
    };
    match pool.run(move |e| e.generate_kube(&names, &opts)).await {
        Ok(yaml) => bytes(StatusCode::OK, "text/vnd.yaml", yaml),
        Err(e) => error_body(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("generating YAML: {e}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use peapod_engine::kube::PlayedPod;

    #[test]
    fn play_report_has_podmans_fields() {
        let r = PlayReport {
            teardown: None,
            volumes: vec!["v1".into()],
            pods: vec![PlayedPod {
                id: "p".into(),
                name: "web".into(),
                containers: vec!["c1".into()],
                init_containers: vec![],
            }],
        };
        let v = report_json(&r);
        assert_eq!(v["Pods"][0]["ID"], "p");
        assert_eq!(v["Pods"][0]["Containers"][0], "c1");
        assert_eq!(v["Volumes"][0]["Name"], "v1");
        assert!(v["StopReport"].is_null());
        let t = TeardownReport {
            stopped: vec!["a".into()],
            removed: vec!["a".into()],
        };
        let (stop, rm) = teardown_json(Some(&t));
        assert_eq!(stop[0]["Id"], "a");
        assert!(rm[0]["Err"].is_null());
    }
}

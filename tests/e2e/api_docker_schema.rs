//! The Docker API's answers held to Docker's own schema: each object the service returns is
//! read into the model bollard-stubs generates from Docker's swagger, and written back. A
//! field of the wrong JSON type fails the read; a field name Docker does not have (a typo, a
//! Podman name, a wrong case) is lost in the round trip and named here. So field names and
//! types cannot drift from Docker's without a test failing.

use bollard_stubs::models as docker;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::api_util::Service;
use crate::util::{IMG, TestEnv, name};

/// The paths (`.a.b[0].c`) of `ours` that are not null and that `theirs` lacks.
fn missing(ours: &Value, theirs: &Value, at: &str, out: &mut Vec<String>) {
    match (ours, theirs) {
        (Value::Object(o), Value::Object(t)) => {
            for (k, v) in o {
                let path = format!("{at}.{k}");
                match t.get(k) {
                    Some(tv) => missing(v, tv, &path, out),
                    // Docker's models skip an absent option, and so may an empty list.
                    None if v.is_null() || v == &Value::Array(vec![]) => {}
                    None => out.push(path),
                }
            }
        }
        (Value::Array(o), Value::Array(t)) => {
            for (i, (ov, tv)) in o.iter().zip(t).enumerate() {
                missing(ov, tv, &format!("{at}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// GET `path` and hold its JSON to the model `T`.
fn holds<T: DeserializeOwned + Serialize>(svc: &Service, path: &str) -> Value {
    holds_but::<T>(svc, path, &[])
}

/// As [`holds`], but for the objects at `free` (JSON pointers): the swagger leaves them
/// free-form and the generator types them as maps of nothing (`HashMap<(), ()>`), which
/// no content fits, so they are set aside before the read.
fn holds_but<T: DeserializeOwned + Serialize>(svc: &Service, path: &str, free: &[&str]) -> Value {
    let (code, body) = svc.curl("GET", path, None);
    assert_eq!(code, 200, "GET {path}: {body}");
    let mut ours: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}"));
    for f in free {
        let v = ours
            .pointer_mut(f)
            .unwrap_or_else(|| panic!("GET {path}: no {f} in {body}"));
        assert!(v.is_object(), "GET {path}: {f} is an object: {v}");
        *v = Value::Null;
    }
    let model: T = serde_json::from_value(ours.clone())
        .unwrap_or_else(|e| panic!("GET {path} does not fit Docker's model: {e}\n{body}"));
    let theirs = serde_json::to_value(&model).unwrap();
    let mut out = Vec::new();
    missing(&ours, &theirs, "", &mut out);
    assert!(
        out.is_empty(),
        "GET {path}: fields Docker's schema does not have: {out:?}"
    );
    ours
}

#[test]
fn api_docker_answers_fit_dockers_schema() {
    let env = TestEnv::new("api-schema");
    env.import_busybox();
    let svc = Service::start(&env, &env.dir.join("api.sock"), "0");
    let net = name("schemanet");
    let vol = name("schemavol");
    let ctr = name("schema");
    env.ok(&["network", "create", &net]);
    env.ok(&["volume", "create", "--label", "k=v", &vol]);
    let port = crate::util::free_port().to_string();
    env.ok(&[
        "run",
        "-d",
        "--name",
        &ctr,
        "--network",
        &net,
        "-p",
        &format!("127.0.0.1:{port}:80"),
        "-v",
        &format!("{vol}:/data"),
        "--label",
        "a=b",
        IMG,
        "sleep",
        "1000",
    ]);
    env.ok(&["create", "--name", &format!("{ctr}-created"), IMG, "true"]);

    holds_but::<docker::SystemVersion>(&svc, "/v1.44/version", &["/Components/0/Details"]);
    holds::<docker::SystemInfo>(&svc, "/v1.44/info");
    let list = holds::<Vec<docker::ContainerSummary>>(&svc, "/v1.44/containers/json?all=1");
    assert_eq!(list.as_array().map(Vec::len), Some(2), "{list}");
    let inspect =
        holds::<docker::ContainerInspectResponse>(&svc, &format!("/v1.44/containers/{ctr}/json"));
    assert_eq!(inspect["State"]["Running"], Value::Bool(true), "{inspect}");
    holds::<docker::ContainerTopResponse>(&svc, &format!("/v1.44/containers/{ctr}/top"));
    holds::<Vec<docker::ImageSummary>>(&svc, "/v1.44/images/json");
    holds::<docker::ImageInspect>(&svc, &format!("/v1.44/images/{IMG}/json"));
    holds::<Vec<docker::HistoryResponseItem>>(&svc, &format!("/v1.44/images/{IMG}/history"));
    holds::<Vec<docker::Network>>(&svc, "/v1.44/networks");
    holds::<docker::Network>(&svc, &format!("/v1.44/networks/{net}"));
    holds::<docker::VolumeListResponse>(&svc, "/v1.44/volumes");
    holds::<docker::Volume>(&svc, &format!("/v1.44/volumes/{vol}"));
    holds::<docker::SystemDataUsageResponse>(&svc, "/v1.44/system/df");
    holds::<Vec<docker::FilesystemChange>>(&svc, &format!("/v1.44/containers/{ctr}/changes"));
    let (code, body) = svc.curl(
        "POST",
        &format!("/v1.44/containers/{ctr}/exec"),
        Some(r#"{"Cmd":["true"],"AttachStdout":true}"#),
    );
    assert_eq!(code, 201, "{body}");
    // `{"Id"}` as Docker's daemon answers (bollard's `IdResponse` renames it `ID`).
    let created: Value = serde_json::from_str(&body).unwrap();
    let exec = created["Id"].as_str().expect("an exec id");
    holds::<docker::ExecInspectResponse>(&svc, &format!("/v1.44/exec/{exec}/json"));

    env.ok(&["rm", "-f", "-t", "0", &ctr, &format!("{ctr}-created")]);
    env.ok(&["volume", "rm", &vol]);
    env.ok(&["network", "rm", &net]);
}

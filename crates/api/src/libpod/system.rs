//! `/libpod/version` and `/libpod/info`.

use hyper::StatusCode;
use peapod_engine::system::{json_tags, version_info};
use serde_json::json;

use super::error;
use crate::http::{Resp, json};
use crate::pool::EnginePool;

/// Podman's `/libpod/version`: Docker's version object with the Podman engine as the
/// component clients read (`Components[0].Details.APIVersion`).
pub async fn version(pool: EnginePool) -> Resp {
    let v = version_info();
    let info = pool.run(|e| e.info()).await;
    let (kernel, runtime) = match &info {
        Ok(i) => (i.Host.Kernel.clone(), i.Host.OCIRuntime.Name.clone()),
        Err(_) => (String::new(), String::new()),
    };
    let arch = v.OsArch.rsplit('/').next().unwrap_or_default().to_string();
    json(
        StatusCode::OK,
        &json!({
            "Platform": { "Name": v.OsArch },
            "Components": [{
                "Name": "Podman Engine",
                "Version": v.Version,
                "Details": {
                    "APIVersion": v.APIVersion,
                    "Arch": arch,
                    "BuildTime": "1970-01-01T00:00:00Z",
                    "Experimental": "false",
                    "GitCommit": v.GitCommit,
                    "GoVersion": v.GoVersion,
                    "KernelVersion": kernel,
                    "MinAPIVersion": "4.0.0",
                    "Os": "linux",
                }
            }, {
                "Name": format!("OCI Runtime ({runtime})"),
                "Version": runtime,
                "Details": {},
            }],
            "Version": v.Version,
            "ApiVersion": crate::DOCKER_API_VERSION,
            "MinAPIVersion": crate::DOCKER_MIN_API_VERSION,
            "GitCommit": v.GitCommit,
            "GoVersion": v.GoVersion,
            "Os": "linux",
            "Arch": arch,
            "KernelVersion": kernel,
            "BuildTime": "1970-01-01T00:00:00Z",
        }),
    )
}

/// The engine's info report with Podman's JSON tags (`host.ociRuntime`, `store.graphRoot`).
pub async fn info(pool: EnginePool) -> Resp {
    let r = pool
        .run(|e| {
            let info = e.info()?;
            serde_json::to_value(&info).map_err(|e| peapod_engine::Error::other(e.to_string()))
        })
        .await;
    match r {
        Ok(v) => json(StatusCode::OK, &json_tags(v)),
        Err(e) => error(&e),
    }
}

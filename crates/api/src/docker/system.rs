//! `/_ping`, `/version`, `/info`: the engine's version and info reports in Docker's shape.

use hyper::header::HeaderValue;
use hyper::{Method, StatusCode};
use peapod_engine::system::version_info;
use serde_json::json;

use crate::http::{Resp, bytes, empty, engine_error, json};
use crate::pool::EnginePool;
use crate::{DOCKER_API_VERSION, DOCKER_MIN_API_VERSION};

/// GET/HEAD `/_ping`: `OK` with the headers clients read to negotiate.
pub fn ping(m: &Method) -> Resp {
    let mut r = if m == Method::HEAD {
        empty(StatusCode::OK)
    } else {
        bytes(StatusCode::OK, "text/plain; charset=utf-8", "OK")
    };
    let h = r.headers_mut();
    // "1": the legacy builder (BuildKit is not served).
    h.insert("Builder-Version", HeaderValue::from_static("1"));
    h.insert(
        "Cache-Control",
        HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    h.insert("Pragma", HeaderValue::from_static("no-cache"));
    h.insert(
        "Libpod-Api-Version",
        HeaderValue::from_static(peapod_engine::system::API_VERSION),
    );
    r
}

fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        a => a,
    }
}

pub async fn version(pool: EnginePool) -> Resp {
    let v = version_info();
    let kernel = pool
        .run(|e| Ok(e.info()?.Host.Kernel))
        .await
        .unwrap_or_default();
    json(
        StatusCode::OK,
        &json!({
            "Platform": { "Name": "peapod" },
            "Components": [{
                "Name": "Engine",
                "Version": v.Version,
                "Details": {
                    "ApiVersion": DOCKER_API_VERSION,
                    "MinAPIVersion": DOCKER_MIN_API_VERSION,
                    "Os": "linux",
                    "Arch": arch(),
                    "KernelVersion": kernel,
                    "Experimental": "false",
                }
            }],
            "Version": v.Version,
            "ApiVersion": DOCKER_API_VERSION,
            "MinAPIVersion": DOCKER_MIN_API_VERSION,
            "GitCommit": v.GitCommit,
            "GoVersion": v.GoVersion,
            "Os": "linux",
            "Arch": arch(),
            "KernelVersion": kernel,
            "Experimental": false,
            "BuildTime": v.BuiltTime,
        }),
    )
}

pub async fn info(pool: EnginePool) -> Resp {
    let info = match pool.run(|e| e.info()).await {
        Ok(i) => i,
        Err(e) => return engine_error(&e),
    };
    let h = &info.Host;
    let s = &info.Store;
    let c = &s.ContainerStore;
    json(
        StatusCode::OK,
        &json!({
            "ID": h.Hostname,
            "Containers": c.number,
            "ContainersRunning": c.running,
            "ContainersPaused": c.paused,
            "ContainersStopped": c.stopped,
            "Images": s.ImageStore.number,
            "Driver": s.GraphDriverName,
            "DriverStatus": [["Backing Filesystem", "extfs"]],
            "DockerRootDir": s.GraphRoot,
            "Plugins": {
                "Volume": ["local"],
                "Network": ["bridge", "macvlan", "ipvlan"],
                "Log": ["k8s-file", "none", "passthrough"],
            },
            "MemoryLimit": true,
            "SwapLimit": true,
            "CpuCfsPeriod": true,
            "CpuCfsQuota": true,
            "CPUShares": true,
            "PidsLimit": true,
            "IPv4Forwarding": true,
            "Debug": false,
            "NFd": 0,
            "NGoroutines": 0,
            "SystemTime": super::rfc3339(chrono::Utc::now()),
            "LoggingDriver": h.LogDriver,
            "CgroupDriver": h.CgroupManager,
            "CgroupVersion": h.CgroupsVersion.trim_start_matches('v'),
            "KernelVersion": h.Kernel,
            "OperatingSystem": h.Distribution.Distribution,
            "OSVersion": h.Distribution.Version,
            "OSType": "linux",
            "Architecture": h.Arch,
            "NCPU": h.CPUs,
            "MemTotal": h.MemTotal,
            "IndexServerAddress": "https://index.docker.io/v1/",
            "RegistryConfig": { "IndexConfigs": {}, "InsecureRegistryCIDRs": [], "Mirrors": [] },
            "Name": h.Hostname,
            "Labels": [],
            "ExperimentalBuild": false,
            "ServerVersion": info.Version.Version,
            "Runtimes": { h.OCIRuntime.Name.clone(): { "path": h.OCIRuntime.Path } },
            "DefaultRuntime": h.OCIRuntime.Name,
            "LiveRestoreEnabled": false,
            "Swarm": { "LocalNodeState": "inactive", "NodeID": "", "NodeAddr": "", "ControlAvailable": false },
            "Isolation": "",
            "InitBinary": "",
            "SecurityOptions": [],
            "Warnings": [],
        }),
    )
}

/// GET `/system/df`: Docker's disk usage lists (the CLI sums them itself): images with
/// their size and how many containers use them, containers with their writable layer,
/// volumes with their size and users, no build cache.
pub async fn df(pool: EnginePool) -> Resp {
    let du = match pool.run(|e| e.disk_usage()).await {
        Ok(d) => d,
        Err(e) => return engine_error(&e),
    };
    let images: Vec<_> = du
        .images
        .iter()
        .map(|i| {
            json!({
                "Id": format!("sha256:{}", i.id),
                "ParentId": "",
                "RepoTags": i.names,
                "RepoDigests": [],
                "Created": i.created.timestamp(),
                "Size": i.size,
                "VirtualSize": i.size,
                "SharedSize": 0,
                "Labels": {},
                "Containers": i.containers,
            })
        })
        .collect();
    let image_name = |id: &str| {
        du.images
            .iter()
            .find(|i| i.id == id)
            .and_then(|i| i.names.first().cloned())
            .unwrap_or_else(|| id.to_string())
    };
    let containers: Vec<_> = du
        .containers
        .iter()
        .map(|c| {
            // The CLI counts a container's volumes from its mounts of type volume.
            let mounts: Vec<_> = (0..c.volumes).map(|_| json!({"Type": "volume"})).collect();
            json!({
                "Id": c.id,
                "Names": [format!("/{}", c.name)],
                "Image": image_name(&c.image_id),
                "ImageID": format!("sha256:{}", c.image_id),
                "Command": c.command,
                "Created": c.created.timestamp(),
                "SizeRw": c.size,
                "SizeRootFs": 0,
                "State": if c.running { "running" } else { "exited" },
                "Status": c.status,
                "Labels": {},
                "Mounts": mounts,
            })
        })
        .collect();
    let volumes: Vec<_> = du
        .volumes
        .iter()
        .map(|v| {
            json!({
                "Name": v.name,
                "Driver": "local",
                "Mountpoint": v.mountpoint,
                "Scope": "local",
                "Labels": {},
                "Options": {},
                "UsageData": {"Size": v.size, "RefCount": v.links},
            })
        })
        .collect();
    let layers: u64 = du.images.iter().map(|i| i.size).sum();
    json(
        StatusCode::OK,
        &json!({
            "LayersSize": layers,
            "Images": images,
            "Containers": containers,
            "Volumes": volumes,
            "BuildCache": [],
        }),
    )
}

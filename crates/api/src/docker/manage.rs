//! Containers, further: POST `/containers/{id}/pause`, `/unpause`, `/rename?name=`,
//! GET `/containers/{id}/top?ps_args=`, POST `/containers/prune`, `/volumes/prune`.

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use peapod_engine::Error;
use serde_json::json;

use super::networks::prune_filters;
use crate::http::{Resp, empty, engine_error, json, query};
use crate::pool::EnginePool;

/// POST `/containers/{id}/pause` and `/unpause`: 204.
pub async fn pause(id: String, pool: EnginePool, on: bool) -> Resp {
    let r = pool
        .run(move |e| if on { e.pause(&id) } else { e.unpause(&id) }.map(|_| ()))
        .await;
    match r {
        Ok(()) => empty(StatusCode::NO_CONTENT),
        Err(e) => engine_error(&e),
    }
}

/// POST `/containers/{id}/rename?name=`: 204; 409 when the name is taken.
pub async fn rename(req: Request<Incoming>, id: String, pool: EnginePool) -> Resp {
    let Some(name) = query(&req).get("name").cloned().filter(|n| !n.is_empty()) else {
        return engine_error(&Error::invalid("rename: a new name is required (name=)"));
    };
    match pool.run(move |e| e.rename_container(&id, &name)).await {
        Ok(_) => empty(StatusCode::NO_CONTENT),
        Err(e) => engine_error(&e),
    }
}

/// The engine's tab-separated `top` lines as Docker's `{"Titles", "Processes"}`.
fn top_json(lines: &[String]) -> serde_json::Value {
    let split =
        |l: &String| -> Vec<String> { l.split('\t').map(|s| s.trim().to_string()).collect() };
    let titles = lines.first().map(split).unwrap_or_default();
    let processes: Vec<Vec<String>> = lines.iter().skip(1).map(split).collect();
    json!({ "Titles": titles, "Processes": processes })
}

/// GET `/containers/{id}/top?ps_args=`.
pub async fn top(req: Request<Incoming>, id: String, pool: EnginePool) -> Resp {
    let args: Vec<String> = query(&req)
        .get("ps_args")
        .map(|a| a.split_whitespace().map(String::from).collect())
        .unwrap_or_default();
    match pool.run(move |e| e.top(&id, &args)).await {
        Ok(lines) => json(StatusCode::OK, &top_json(&lines)),
        Err(e) => engine_error(&e),
    }
}

/// POST `/containers/prune`: `{"ContainersDeleted", "SpaceReclaimed"}`.
pub async fn prune_containers(req: Request<Incoming>, pool: EnginePool) -> Resp {
    let f = match prune_filters(&req) {
        Ok(f) => f,
        Err(e) => return engine_error(&e),
    };
    match pool.run(move |e| e.prune_containers(&f)).await {
        Ok(r) => match r.errors.first() {
            Some(e) => engine_error(e),
            None => json(
                StatusCode::OK,
                &json!({ "ContainersDeleted": r.containers, "SpaceReclaimed": r.reclaimed }),
            ),
        },
        Err(e) => engine_error(&e),
    }
}

/// POST `/volumes/prune`: `{"VolumesDeleted", "SpaceReclaimed"}`.
pub async fn prune_volumes(req: Request<Incoming>, pool: EnginePool) -> Resp {
    let f = match crate::http::filters(&query(&req)) {
        Ok(f) => f,
        Err(e) => return engine_error(&e),
    };
    let r = pool
        .run(move |e| {
            let parsed = f
                .iter()
                .map(|s| peapod_engine::volume::VolumeFilter::parse(s))
                .collect::<Result<Vec<_>, _>>()?;
            e.prune_volumes(&parsed)
        })
        .await;
    match r {
        Ok(gone) => json(
            StatusCode::OK,
            &json!({ "VolumesDeleted": gone, "SpaceReclaimed": 0 }),
        ),
        Err(e) => engine_error(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_lines_become_titles_and_processes() {
        let lines = vec![
            "USER\tPID\tCOMMAND".to_string(),
            "root\t1\tsleep 300".to_string(),
        ];
        let v = top_json(&lines);
        assert_eq!(v["Titles"], json!(["USER", "PID", "COMMAND"]));
        assert_eq!(v["Processes"], json!([["root", "1", "sleep 300"]]));
    }
}

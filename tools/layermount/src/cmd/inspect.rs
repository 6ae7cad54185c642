//! `layermount inspect IMAGE [--json]`: the stable document a launcher reads with jq.

use serde::Serialize;
use serde_json::{Map, Value};

use super::human;
use crate::cli::InspectArgs;
use crate::error::{Error, IoContext};
use crate::store::Store;
use common::output::emit_json;

#[derive(Serialize)]
pub struct Inspect {
    pub id: String,
    pub names: Vec<String>,
    pub created: Option<String>,
    pub architecture: Option<String>,
    pub os: Option<String>,
    pub config: Config,
    pub layers: Vec<Layer>,
    pub size: u64,
    pub history: Vec<History>,
}

/// The image's run defaults, with Docker's key names. Cmd/Entrypoint are arrays or null;
/// Env, ExposedPorts and Volumes are always arrays; WorkingDir and User always strings.
#[derive(Serialize)]
#[allow(non_snake_case)]
pub struct Config {
    pub Cmd: Option<Vec<String>>,
    pub Entrypoint: Option<Vec<String>>,
    pub Env: Vec<String>,
    pub WorkingDir: String,
    pub User: String,
    pub ExposedPorts: Vec<String>,
    pub Volumes: Vec<String>,
    pub Labels: Map<String, Value>,
    pub StopSignal: Option<String>,
}

#[derive(Serialize)]
pub struct Layer {
    pub diff_id: String,
    pub size: u64,
}

#[derive(Serialize)]
pub struct History {
    pub created: Option<String>,
    pub created_by: Option<String>,
    pub comment: Option<String>,
    pub empty_layer: bool,
}

fn strs(v: Option<&Value>) -> Option<Vec<String>> {
    v.and_then(Value::as_array).map(|a| {
        a.iter()
            .filter_map(|s| s.as_str().map(String::from))
            .collect()
    })
}

fn keys(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_object)
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

fn s(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(String::from)
}

pub fn build(store: &Store, image: &str) -> Result<Inspect, Error> {
    let img = store.resolve_image(image)?;
    let raw = store.read_config(&img.id)?;
    let cfg: Value = serde_json::from_slice(&raw).map_err(|e| Error::Json {
        what: format!("config of {}", img.id),
        source: e,
    })?;
    let c = cfg.get("config");
    let g = |k: &str| c.and_then(|c| c.get(k));
    let refs = store.refs()?;
    let layers: Vec<Layer> = img
        .layers
        .iter()
        .map(|d| Layer {
            diff_id: d.clone(),
            size: store.read_layer(d).map(|l| l.size).unwrap_or(0),
        })
        .collect();
    let history = cfg
        .get("history")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|h| History {
                    created: s(h.get("created")),
                    created_by: s(h.get("created_by")),
                    comment: s(h.get("comment")),
                    empty_layer: h
                        .get("empty_layer")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Inspect {
        names: store.names_of(&refs, &img.id),
        created: s(cfg.get("created")),
        architecture: s(cfg.get("architecture")),
        os: s(cfg.get("os")),
        config: Config {
            Cmd: strs(g("Cmd")),
            Entrypoint: strs(g("Entrypoint")),
            Env: strs(g("Env")).unwrap_or_default(),
            WorkingDir: s(g("WorkingDir")).unwrap_or_default(),
            User: s(g("User")).unwrap_or_default(),
            ExposedPorts: keys(g("ExposedPorts")),
            Volumes: keys(g("Volumes")),
            Labels: g("Labels")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
            StopSignal: s(g("StopSignal")),
        },
        size: layers.iter().map(|l| l.size).sum(),
        layers,
        history,
        id: img.id,
    })
}

pub fn run(store: &Store, a: InspectArgs) -> Result<(), Error> {
    let i = build(store, &a.image)?;
    if a.json {
        return emit_json(&i).ctx("write", "stdout");
    }
    let j = |v: &Option<Vec<String>>| serde_json::to_string(v).unwrap_or_default();
    let mut out = String::new();
    let mut kv = |k: &str, v: String| out.push_str(&format!("{k:<13}{v}\n"));
    kv("ID:", i.id.clone());
    kv("Names:", i.names.join(", "));
    kv("Created:", i.created.clone().unwrap_or_default());
    kv(
        "Platform:",
        format!(
            "{}/{}",
            i.os.clone().unwrap_or_default(),
            i.architecture.clone().unwrap_or_default()
        ),
    );
    kv("Entrypoint:", j(&i.config.Entrypoint));
    kv("Cmd:", j(&i.config.Cmd));
    kv("Env:", i.config.Env.join(" "));
    kv("WorkingDir:", i.config.WorkingDir.clone());
    kv("User:", i.config.User.clone());
    kv("Ports:", i.config.ExposedPorts.join(" "));
    kv("Volumes:", i.config.Volumes.join(" "));
    kv("Size:", human(i.size));
    kv("Layers:", i.layers.len().to_string());
    for l in &i.layers {
        out.push_str(&format!("  {}  {}\n", l.diff_id, human(l.size)));
    }
    print!("{out}");
    Ok(())
}

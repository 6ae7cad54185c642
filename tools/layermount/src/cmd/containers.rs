//! `layermount containers`

use crate::cli::ListArgs;
use crate::error::{Error, IoContext};
use crate::store::{Store, short};
use common::output::{Table, emit_json};

pub fn run(store: &Store, a: ListArgs) -> Result<(), Error> {
    let cs = store.containers()?;
    if a.json {
        return emit_json(&cs).ctx("write", "stdout");
    }
    let mut t = Table::new(["container", "image", "driver", "mounted at"]);
    for c in &cs {
        let driver = serde_json::to_value(c.driver)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        t.row([
            c.id.clone(),
            short(&c.image).to_string(),
            driver,
            c.target.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    t.print(!a.no_headers).ctx("write", "stdout")
}

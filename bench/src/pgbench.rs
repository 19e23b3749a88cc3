//! Runs PostgreSQL's pgbench with a script and returns transactions/s.

use std::process::Command;

#[derive(Clone)]
pub struct Pgbench {
    bin: String,
    url: String,
}

pub struct Run<'a> {
    pub script: &'a str,
    pub clients: u32,
    pub seconds: u32,
    /// `simple` (parse every time, like psql) or `prepared` (like drivers
    /// with prepared statements and PL/pgSQL).
    pub protocol: &'a str,
    /// Transactions per second to pace at; `None` for as fast as possible.
    pub rate: Option<u32>,
    /// `-c name=value` settings for the sessions.
    pub options: &'a str,
}

impl Pgbench {
    /// pgbench from `pg_config --bindir` (the server's own), else from PATH.
    pub fn new(url: &str) -> Pgbench {
        let bindir = Command::new("pg_config")
            .arg("--bindir")
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
        let bin = bindir
            .map(|dir| format!("{dir}/pgbench"))
            .filter(|path| std::path::Path::new(path).exists())
            .unwrap_or_else(|| "pgbench".into());
        Pgbench {
            bin,
            url: url.to_owned(),
        }
    }

    pub fn tps(&self, run: &Run) -> f64 {
        let dir = std::env::temp_dir().join(format!("pg_socketio_bench_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("script.sql");
        std::fs::write(&script, run.script).unwrap();
        let mut cmd = Command::new(&self.bin);
        cmd.args(["-n", "-M", run.protocol])
            .args([
                "-c",
                &run.clients.to_string(),
                "-j",
                &run.clients.to_string(),
            ])
            .args(["-T", &run.seconds.to_string(), "-f"])
            .arg(&script);
        if let Some(rate) = run.rate {
            cmd.args(["-R", &rate.to_string()]);
        }
        // TLS would add the same cost to both sides of every ratio; without
        // it, the differences stand out more.
        cmd.arg(&self.url)
            .env("PGSSLMODE", "disable")
            .env("PGOPTIONS", run.options);
        let out = cmd.output().expect("pgbench runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "pgbench failed: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
            .lines()
            .find_map(|l| {
                l.strip_prefix("tps = ")?
                    .split_whitespace()
                    .next()?
                    .parse()
                    .ok()
            })
            .unwrap_or_else(|| panic!("no tps in pgbench output: {stdout}"))
    }
}

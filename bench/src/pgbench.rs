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
        let mut cmd = self.command(run.script, run.protocol, run.clients);
        cmd.args(["-T", &run.seconds.to_string()]);
        if let Some(rate) = run.rate {
            cmd.args(["-R", &rate.to_string()]);
        }
        let stdout = self.output(cmd, run.options);
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

    /// Runs `script` `count` times on one connection, as fast as it goes.
    pub fn transactions(&self, script: &str, protocol: &str, count: u32, options: &str) {
        let mut cmd = self.command(script, protocol, 1);
        cmd.args(["-t", &count.to_string()]);
        self.output(cmd, options);
    }

    fn command(&self, script: &str, protocol: &str, clients: u32) -> Command {
        let dir = std::env::temp_dir().join(format!("pg_socketio_bench_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("script.sql");
        std::fs::write(&path, script).unwrap();
        let mut cmd = Command::new(&self.bin);
        cmd.args(["-n", "-M", protocol])
            .args(["-c", &clients.to_string(), "-j", &clients.to_string()])
            .arg("-f")
            .arg(&path);
        cmd
    }

    /// pgbench's output; `options` are `-c name=value` settings.
    fn output(&self, mut cmd: Command, options: &str) -> String {
        // TLS would add the same cost to both sides of every ratio; without
        // it, the differences stand out more.
        cmd.arg(&self.url)
            .env("PGSSLMODE", "disable")
            .env("PGOPTIONS", options);
        let out = cmd.output().expect("pgbench runs");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "pgbench failed: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }
}

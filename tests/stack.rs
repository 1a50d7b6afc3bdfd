//! scripts/stack decides "running" by whether a server answers on its port, not by its pid
//! file (issue #26, defect C): each server of a private stack instance is killed with
//! SIGKILL, and `up` run at once restarts it; `status` at once calls it down.
//!
//! The instance has its own state directory (CLINICLOAD_STACK_DIR in the temp dir) and its
//! own ports, below the kernel's ephemeral range and apart from the shared stack's (55432,
//! 57017 and its debug port 57018, 56379), so the servers other tests use are never touched.
//! It reuses the FerretDB binary the shared stack built (CLINICLOAD_FERRETDB_BIN), found as
//! seed_resume.rs finds it; `down` and removal of the directory happen on drop, also when an
//! assertion fails.

mod common;
use common::prelude::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The shared stack's ports (scripts/stack's defaults), FerretDB's debug port included.
const SHARED_PORTS: [u16; 4] = [55432, 57017, 57018, 56379];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A built FerretDB: CLINICLOAD_FERRETDB_BIN, else `bin/ferretdb` of CLINICLOAD_STACK_DIR or
/// of `.stack/` at the repository root (scripts/test runs `stack up`, which builds it). None
/// lets the private instance build its own (slow, needs Go).
fn ferretdb_bin() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os("CLINICLOAD_FERRETDB_BIN") {
        return Some(PathBuf::from(bin));
    }
    let stack = std::env::var_os("CLINICLOAD_STACK_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".stack"));
    let bin = stack.join("bin/ferretdb");
    bin.exists().then_some(bin)
}

fn bindable(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// Three ports (the second with its successor free too, for FerretDB's debug handler) in
/// 20000..32000, below the ephemeral range, so no outgoing connection holds them; the start
/// depends on the process id, so concurrent runs in other checkouts try different ones.
fn free_ports() -> (u16, u16, u16) {
    let mut next = 20000 + (std::process::id() % 1200) as u16 * 10;
    let mut take = |width: u16| loop {
        let p = next;
        next = if next + 10 >= 32000 { 20000 } else { next + 10 };
        if (p..p + width).all(|q| !SHARED_PORTS.contains(&q) && bindable(q)) {
            return p;
        }
    };
    (take(1), take(2), take(1))
}

/// A private stack instance; stopped and removed on drop.
struct Stack {
    dir: PathBuf,
    pg_port: u16,
    mongo_port: u16,
    redis_port: u16,
    ferretdb_bin: Option<PathBuf>,
}

impl Stack {
    fn new() -> Stack {
        let dir = std::env::temp_dir().join(format!("clinicload-stack-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let (pg_port, mongo_port, redis_port) = free_ports();
        Stack {
            dir,
            pg_port,
            mongo_port,
            redis_port,
            ferretdb_bin: ferretdb_bin(),
        }
    }

    /// Runs `scripts/stack <arg>` against this instance.
    fn run(&self, arg: &str) -> Output {
        let mut cmd = Command::new(repo().join("scripts/stack"));
        cmd.arg(arg)
            .env("CLINICLOAD_STACK_DIR", &self.dir)
            .env("CLINICLOAD_PG_PORT", self.pg_port.to_string())
            .env("CLINICLOAD_MONGO_PORT", self.mongo_port.to_string())
            .env("CLINICLOAD_REDIS_PORT", self.redis_port.to_string());
        match &self.ferretdb_bin {
            Some(bin) => cmd.env("CLINICLOAD_FERRETDB_BIN", bin),
            None => cmd.env_remove("CLINICLOAD_FERRETDB_BIN"),
        };
        cmd.checked_output().expect("scripts/stack runs")
    }

    fn pid_file(&self, server: Server) -> PathBuf {
        self.dir.join(match server {
            Server::Postgres => "postgres/postmaster.pid",
            Server::Ferretdb => "ferretdb/ferretdb.pid",
            Server::Redis => "redis/redis.pid",
        })
    }

    fn kill9(&self, server: Server) {
        let file = self.pid_file(server);
        let text =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let pid = text.lines().next().unwrap_or("").trim().to_string();
        assert!(
            !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()),
            "pid in {}: {text:?}",
            file.display()
        );
        let out = Command::new("kill")
            .args(["-9", &pid])
            .checked_output()
            .unwrap();
        assert!(out.status.success(), "kill -9 {pid}: {}", text_of(&out));
    }

    /// Whether the server answers, checked without scripts/stack: a query to PostgreSQL, a
    /// PING to Redis, a MongoDB `hello` to FerretDB.
    fn answers(&self, server: Server) -> Result<(), String> {
        match server {
            Server::Postgres => {
                let out = Command::new(psql())
                    .args(["-XAtc", "SELECT 41 + 1"])
                    .arg(format!(
                        "postgres://clinicload:clinicload@127.0.0.1:{}/clinicload",
                        self.pg_port
                    ))
                    .checked_output()
                    .map_err(|e| e.to_string())?;
                match String::from_utf8_lossy(&out.stdout).trim() {
                    "42" => Ok(()),
                    _ => Err(text_of(&out)),
                }
            }
            Server::Redis => {
                let reply = exchange(self.redis_port, b"PING\r\n", 7)?;
                if reply.starts_with(b"+PONG") {
                    Ok(())
                } else {
                    Err(format!("PING got {:?}", String::from_utf8_lossy(&reply)))
                }
            }
            Server::Ferretdb => {
                let reply = exchange(self.mongo_port, &hello(), 16)?;
                // An OP_MSG (2013) in reply to request 42.
                if reply[8..12] == 42i32.to_le_bytes() && reply[12..16] == 2013i32.to_le_bytes() {
                    Ok(())
                } else {
                    Err(format!("hello got {reply:?}"))
                }
            }
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let out = self.run("down");
        if !out.status.success() {
            eprintln!("scripts/stack down: {}", text_of(&out));
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[derive(Clone, Copy, Debug)]
enum Server {
    Postgres,
    Ferretdb,
    Redis,
}

impl Server {
    /// The name in scripts/stack's log lines ("FerretDB already running on …").
    fn display(self) -> &'static str {
        match self {
            Server::Postgres => "PostgreSQL",
            Server::Ferretdb => "FerretDB",
            Server::Redis => "Redis",
        }
    }
    /// The name in `status` lines ("ferretdb  down").
    fn status_name(self) -> &'static str {
        match self {
            Server::Postgres => "postgres",
            Server::Ferretdb => "ferretdb",
            Server::Redis => "redis",
        }
    }
}

fn text_of(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}stderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn psql() -> PathBuf {
    if let Ok(out) = Command::new("sh")
        .args(["-c", "command -v psql"])
        .checked_output()
    {
        let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if out.status.success() && !path.is_empty() {
            return PathBuf::from(path);
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin/psql"))
        .filter(|p| p.exists())
        .collect();
    found.sort();
    found
        .pop()
        .expect("psql installed (scripts/stack up installs PostgreSQL)")
}

/// OP_MSG {hello: 1, $db: "admin"}, request id 42.
fn hello() -> Vec<u8> {
    let mut doc = Vec::new();
    doc.extend_from_slice(&[0x10]);
    doc.extend_from_slice(b"hello\0");
    doc.extend_from_slice(&1i32.to_le_bytes());
    doc.extend_from_slice(&[0x02]);
    doc.extend_from_slice(b"$db\0");
    doc.extend_from_slice(&6i32.to_le_bytes());
    doc.extend_from_slice(b"admin\0");
    doc.push(0);
    let doc_len = (doc.len() + 4) as i32;
    let mut body = vec![0, 0, 0, 0, 0]; // flag bits, section kind 0
    body.extend_from_slice(&doc_len.to_le_bytes());
    body.extend_from_slice(&doc);
    let mut msg = Vec::new();
    msg.extend_from_slice(&((16 + body.len()) as i32).to_le_bytes());
    msg.extend_from_slice(&42i32.to_le_bytes());
    msg.extend_from_slice(&0i32.to_le_bytes());
    msg.extend_from_slice(&2013i32.to_le_bytes());
    msg.extend_from_slice(&body);
    msg
}

/// Sends `request` to 127.0.0.1:`port` and reads `want` bytes of the reply, within 3 s.
fn exchange(port: u16, request: &[u8], want: usize) -> Result<Vec<u8>, String> {
    let addr = ("127.0.0.1", port);
    let mut s = TcpStream::connect(addr).map_err(|e| format!("connect :{port}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    s.write_all(request).map_err(|e| e.to_string())?;
    let mut reply = vec![0; want];
    s.read_exact(&mut reply)
        .map_err(|e| format!("reply from :{port}: {e}"))?;
    Ok(reply)
}

/// The line of `status` output about `server`.
fn status_line(out: &Output, server: Server) -> String {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.split_whitespace().next() == Some(server.status_name()))
        .unwrap_or_default()
        .to_string()
}

fn assert_up_restarted(stack: &Stack, server: Server, what: &str) {
    let t = Instant::now();
    let out = stack.run("up");
    let log = text_of(&out);
    assert!(out.status.success(), "up {what}: {log}");
    assert!(
        !log.contains(&format!("{} already running", server.display())),
        "up {what} called the killed {server:?} running: {log}"
    );
    assert!(
        log.contains(&format!("starting {}", server.display())),
        "up {what} did not start {server:?}: {log}"
    );
    if let Err(e) = stack.answers(server) {
        panic!("{server:?} does not answer after up {what} ({e}); up said: {log}");
    }
    eprintln!(
        "up {what}: {:.1} s\n{}",
        t.elapsed().as_secs_f64(),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn up_restarts_a_killed_server_and_status_calls_it_down() {
    let stack = Stack::new();
    let t = Instant::now();
    let out = stack.run("up");
    assert!(out.status.success(), "first up: {}", text_of(&out));
    eprintln!("first up: {:.1} s", t.elapsed().as_secs_f64());
    let status = stack.run("status");
    assert!(status.status.success(), "status: {}", text_of(&status));

    for server in [Server::Ferretdb, Server::Redis, Server::Postgres] {
        stack.answers(server).unwrap();

        // Killed, then `up` at once (the pid may still be an unreaped zombie).
        stack.kill9(server);
        assert_up_restarted(
            &stack,
            server,
            &format!("right after kill -9 of {server:?}"),
        );

        // Killed again, then `status` at once: down, exit 1; the others still up.
        stack.kill9(server);
        let status = stack.run("status");
        let line = status_line(&status, server);
        assert!(
            !status.status.success() && line.split_whitespace().nth(1) == Some("down"),
            "status right after kill -9 of {server:?}: {}",
            text_of(&status)
        );
        for other in [Server::Postgres, Server::Ferretdb, Server::Redis] {
            if other.status_name() != server.status_name() {
                let line = status_line(&status, other);
                assert!(
                    line.split_whitespace().nth(1) == Some("up"),
                    "status after kill -9 of {server:?} says {other:?} is not up: {}",
                    text_of(&status)
                );
            }
        }
        assert_up_restarted(
            &stack,
            server,
            &format!("after status of killed {server:?}"),
        );

        let status = stack.run("status");
        assert!(status.status.success(), "status: {}", text_of(&status));
    }

    // `down` stops what `up` started: nothing answers afterwards.
    let out = stack.run("down");
    assert!(out.status.success(), "down: {}", text_of(&out));
    let status = stack.run("status");
    assert!(
        !status.status.success(),
        "status after down: {}",
        text_of(&status)
    );
    for server in [Server::Postgres, Server::Ferretdb, Server::Redis] {
        assert!(
            stack.answers(server).is_err(),
            "{server:?} still answers after down"
        );
    }
    assert_stopped(&stack.dir);
}

/// No process of this instance is left: none has its state directory on its command line.
fn assert_stopped(dir: &Path) {
    let needle = dir.to_string_lossy().to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left: Vec<String> = std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
            .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
            .filter(|c| c.contains(&needle))
            .collect();
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "left running after down: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

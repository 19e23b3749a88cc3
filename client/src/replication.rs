//! A logical replication connection, by hand: tokio-postgres cannot open
//! one (`replication=database` is a startup parameter it does not send) nor
//! speak CopyBoth. Message framing and authentication come from
//! postgres-protocol, the crate tokio-postgres itself uses; what is written
//! here is the replication sub-protocol: START_REPLICATION, XLogData,
//! keepalives and standby status updates, and pgoutput's BEGIN, MESSAGE and
//! COMMIT.

use std::io;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Buf, BytesMut};
use fallible_iterator::FallibleIterator;
use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256};
use postgres_protocol::message::backend::{ErrorFields, Header, Message};
use postgres_protocol::message::frontend;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_postgres::config::{Host, SslMode, TargetSessionAttrs};
use tokio_postgres::Config;

use crate::session::quote_ident;
use crate::tls::{Connector, Stream};

/// What the server said went wrong: SQLSTATE and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code} {message}{}", detail.as_ref().map(|d| format!(" ({d})")).unwrap_or_default())]
pub struct ServerError {
    pub code: String,
    pub message: String,
    pub detail: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("{0}")]
    Server(ServerError),
    #[error("unsupported: {0}")]
    Unsupported(String),
    #[error("protocol: {0}")]
    Protocol(String),
    /// A host that is not what `target_session_attrs` asks for.
    #[error("{0} (target_session_attrs)")]
    Unfit(String),
}

/// A replication stream's parts that matter here.
#[derive(Debug, Clone, PartialEq)]
pub enum Streamed {
    Begin {
        /// The commit's LSN: the transaction's place in commit order.
        final_lsn: u64,
        commit_time: SystemTime,
    },
    /// A logical decoding message of the transaction being sent.
    Message { prefix: String, content: Vec<u8> },
    Commit {
        commit_lsn: u64,
        /// Just past the commit record: what to confirm once it is handled.
        end_lsn: u64,
    },
    /// The server's WAL position, and whether it wants a status update now.
    Keepalive { wal_end: u64, reply: bool },
    /// pgoutput's other messages (relations, changes of published tables).
    Other,
}

/// A connection in replication mode (`replication=database`).
pub struct Replication {
    stream: Stream,
    read: BytesMut,
    write: BytesMut,
}

impl Replication {
    /// Connects to the first of the connection string's hosts that answers
    /// and is what `target_session_attrs` asks for (`read-write` skips
    /// standbys: after a failover, the promoted one), each given `limit`,
    /// as libpq and tokio-postgres go through their hosts. Over TLS when
    /// `tls` is given and `sslmode` is not `disable`, as tokio-postgres does
    /// (the caller refuses `sslmode=require` without `tls`); authenticates
    /// with trust, password, md5 or SCRAM-SHA-256. When no host will do,
    /// the last host's error.
    pub async fn connect(
        config: &Config,
        tls: Option<&Connector>,
        application_name: &str,
        limit: Duration,
    ) -> Result<Self, WireError> {
        let ports = config.get_ports();
        let hosts: Vec<Option<&Host>> = match config.get_hosts() {
            [] => vec![None],
            hosts => hosts.iter().map(Some).collect(),
        };
        let mut last = None;
        for (i, host) in hosts.into_iter().enumerate() {
            // One port for every host, or one per host.
            let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
            let attempt = Self::connect_to(config, host, port, tls, application_name);
            let error = match tokio::time::timeout(limit, attempt).await {
                Ok(Ok((conn, read_only))) => match (config.get_target_session_attrs(), read_only) {
                    (TargetSessionAttrs::ReadWrite, true) => {
                        WireError::Unfit(format!("{} is read-only", address(host, port)))
                    }
                    (TargetSessionAttrs::ReadOnly, false) => {
                        WireError::Unfit(format!("{} is read-write", address(host, port)))
                    }
                    _ => return Ok(conn),
                },
                Ok(Err(e)) => e,
                Err(_) => timed_out(&address(host, port), limit),
            };
            last = Some(error);
        }
        Err(last.expect("at least one host"))
    }

    /// One host: the connection, and whether its sessions are read-only (a
    /// hot standby, or `default_transaction_read_only`), as the server
    /// reports at startup.
    async fn connect_to(
        config: &Config,
        host: Option<&Host>,
        port: u16,
        tls: Option<&Connector>,
        application_name: &str,
    ) -> Result<(Self, bool), WireError> {
        let mode = config.get_ssl_mode();
        let stream: Stream = match host {
            // Never TLS over a Unix socket, as libpq.
            #[cfg(unix)]
            Some(Host::Unix(dir)) => Box::new(
                tokio::net::UnixStream::connect(dir.join(format!(".s.PGSQL.{port}"))).await?,
            ),
            host => {
                let host = match host {
                    Some(Host::Tcp(host)) => host.as_str(),
                    _ => "localhost",
                };
                let tcp = tokio::net::TcpStream::connect((host, port)).await?;
                tcp.set_nodelay(true)?;
                match tls {
                    Some(tls) if mode != SslMode::Disable => {
                        start_tls(tcp, host, tls, mode == SslMode::Require).await?
                    }
                    _ => Box::new(tcp),
                }
            }
        };
        let mut conn = Replication {
            stream,
            read: BytesMut::with_capacity(64 * 1024),
            write: BytesMut::new(),
        };
        let user = config
            .get_user()
            .ok_or_else(|| WireError::Unsupported("no user in the connection string".into()))?;
        let database = config.get_dbname().unwrap_or(user);
        frontend::startup_message(
            [
                ("user", user),
                ("database", database),
                ("replication", "database"),
                ("application_name", application_name),
            ],
            &mut conn.write,
        )?;
        conn.flush().await?;
        conn.authenticate(user, config.get_password()).await?;
        let read_only = conn.until_ready().await?;
        Ok((conn, read_only))
    }

    async fn authenticate(&mut self, user: &str, password: Option<&[u8]>) -> Result<(), WireError> {
        let need = || WireError::Unsupported("the server asks for a password; none given".into());
        loop {
            match self.next_message().await? {
                Message::AuthenticationOk => return Ok(()),
                Message::AuthenticationCleartextPassword => {
                    frontend::password_message(password.ok_or_else(need)?, &mut self.write)?;
                }
                Message::AuthenticationMd5Password(body) => {
                    let hash = postgres_protocol::authentication::md5_hash(
                        user.as_bytes(),
                        password.ok_or_else(need)?,
                        body.salt(),
                    );
                    frontend::password_message(hash.as_bytes(), &mut self.write)?;
                }
                Message::AuthenticationSasl(body) => {
                    let mut mechanisms = body.mechanisms();
                    let mut scram = false;
                    while let Some(m) = mechanisms.next()? {
                        scram |= m == "SCRAM-SHA-256";
                    }
                    if !scram {
                        return Err(WireError::Unsupported("no SCRAM-SHA-256 offered".into()));
                    }
                    let mut sasl =
                        ScramSha256::new(password.ok_or_else(need)?, ChannelBinding::unsupported());
                    frontend::sasl_initial_response(
                        "SCRAM-SHA-256",
                        sasl.message(),
                        &mut self.write,
                    )?;
                    self.flush().await?;
                    let Message::AuthenticationSaslContinue(body) = self.next_message().await?
                    else {
                        return Err(WireError::Protocol("expected SASL continue".into()));
                    };
                    sasl.update(body.data())?;
                    frontend::sasl_response(sasl.message(), &mut self.write)?;
                    self.flush().await?;
                    let Message::AuthenticationSaslFinal(body) = self.next_message().await? else {
                        return Err(WireError::Protocol("expected SASL final".into()));
                    };
                    sasl.finish(body.data())?;
                    continue;
                }
                _ => {
                    return Err(WireError::Unsupported(
                        "an authentication method other than password, md5 or SCRAM".into(),
                    ))
                }
            }
            self.flush().await?;
        }
    }

    /// Reads parameter statuses and the backend key up to ReadyForQuery:
    /// whether sessions are read-only, from the two settings the server
    /// reports from PostgreSQL 14 on.
    async fn until_ready(&mut self) -> Result<bool, WireError> {
        let mut read_only = false;
        loop {
            match self.next_message().await? {
                Message::ReadyForQuery(_) => return Ok(read_only),
                Message::ParameterStatus(status) => {
                    let name = status.name()?;
                    if name == "in_hot_standby" || name == "default_transaction_read_only" {
                        read_only |= status.value()? == "on";
                    }
                }
                _ => {}
            }
        }
    }

    /// A replication command that answers with no rows worth reading
    /// (`ALTER_REPLICATION_SLOT`).
    pub async fn command(&mut self, sql: &str) -> Result<(), WireError> {
        frontend::query(sql, &mut self.write)?;
        self.flush().await?;
        self.until_ready().await.map(drop)
    }

    /// `START_REPLICATION` with pgoutput, messages on, from `start`.
    pub async fn start(
        &mut self,
        slot: &str,
        publication: &str,
        start: u64,
    ) -> Result<(), WireError> {
        let sql = format!(
            "START_REPLICATION SLOT {} LOGICAL {} (proto_version '1', publication_names {}, messages 'true')",
            quote_ident(slot),
            format_lsn(start),
            quote_literal(&quote_ident(publication)),
        );
        frontend::query(&sql, &mut self.write)?;
        self.flush().await?;
        // CopyBothResponse ('W'), which postgres-protocol does not parse.
        loop {
            self.fill_header().await?;
            let header = Header::parse(&self.read)?.expect("a whole header is buffered");
            if header.tag() == b'W' {
                let len = header.len() as usize + 1;
                self.fill(len).await?;
                self.read.advance(len);
                return Ok(());
            }
            match self.next_message().await? {
                Message::NoticeResponse(_) | Message::ParameterStatus(_) => {}
                other => {
                    return Err(WireError::Protocol(format!(
                        "unexpected answer to START_REPLICATION: {}",
                        tag_name(&other)
                    )))
                }
            }
        }
    }

    /// The next replication message.
    pub async fn next(&mut self) -> Result<Streamed, WireError> {
        loop {
            match self.next_message().await? {
                Message::CopyData(body) => return parse_copy_data(body.data()),
                Message::NoticeResponse(_) | Message::ParameterStatus(_) => {}
                Message::CopyDone => {
                    return Err(WireError::Protocol("the server ended the stream".into()))
                }
                other => {
                    return Err(WireError::Protocol(format!(
                        "unexpected {} while streaming",
                        tag_name(&other)
                    )))
                }
            }
        }
    }

    /// Tells the server that everything up to `flushed` is handled: it may
    /// drop that WAL and will not send it again. With `reply`, the server
    /// answers at once (with a keepalive).
    pub async fn status(&mut self, flushed: u64, reply: bool) -> Result<(), WireError> {
        let mut data = Vec::with_capacity(34);
        data.push(b'r');
        for lsn in [flushed, flushed, flushed] {
            data.extend_from_slice(&lsn.to_be_bytes());
        }
        data.extend_from_slice(&pg_time(SystemTime::now()).to_be_bytes());
        data.push(u8::from(reply));
        frontend::CopyData::new(&data[..])?.write(&mut self.write);
        self.flush().await
    }

    /// Ends the stream: confirms `flushed`, ends the copy, and reads the
    /// server's answer to its end (ReadyForQuery), which it sends only once
    /// it has taken the confirmation and released the slot. Without that
    /// wait, a caller that closes and at once reads `pg_replication_slots`,
    /// or starts the stream again, races the walsender.
    pub async fn finish(mut self, flushed: u64) -> Result<(), WireError> {
        self.status(flushed, false).await?;
        frontend::copy_done(&mut self.write);
        self.flush().await?;
        // What was in flight, the server's CopyDone and CommandComplete.
        self.until_ready().await?;
        frontend::terminate(&mut self.write);
        self.flush().await
    }

    /// Writes what is buffered. Cancel-safe: what a cancelled call did not
    /// write stays buffered, so frames are never cut.
    async fn flush(&mut self) -> Result<(), WireError> {
        while self.write.has_remaining() {
            self.stream.write_buf(&mut self.write).await?;
        }
        self.stream.flush().await?;
        Ok(())
    }

    async fn fill(&mut self, len: usize) -> Result<(), WireError> {
        while self.read.len() < len {
            self.read.reserve(len - self.read.len());
            if self.stream.read_buf(&mut self.read).await? == 0 {
                return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
            }
        }
        Ok(())
    }

    async fn fill_header(&mut self) -> Result<(), WireError> {
        self.fill(5).await
    }

    /// The next whole message; an ErrorResponse becomes a [`ServerError`].
    async fn next_message(&mut self) -> Result<Message, WireError> {
        loop {
            if let Some(message) = Message::parse(&mut self.read)? {
                if let Message::ErrorResponse(body) = message {
                    return Err(WireError::Server(server_error(body.fields())?));
                }
                return Ok(message);
            }
            if self.stream.read_buf(&mut self.read).await? == 0 {
                return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
            }
        }
    }
}

/// `what` took longer than `limit`: an I/O error, which is retried.
pub fn timed_out(what: &str, limit: Duration) -> WireError {
    WireError::Io(io::Error::new(
        io::ErrorKind::TimedOut,
        format!("{what}: no answer within {limit:?}"),
    ))
}

/// `host:port` (or the socket directory), for errors.
fn address(host: Option<&Host>, port: u16) -> String {
    match host {
        Some(Host::Tcp(host)) => format!("{host}:{port}"),
        #[cfg(unix)]
        Some(Host::Unix(dir)) => format!("{}:{port}", dir.display()),
        None => format!("localhost:{port}"),
    }
}

/// SSLRequest, then TLS if the server takes it; plain text if it does not,
/// unless `required`.
async fn start_tls(
    mut tcp: tokio::net::TcpStream,
    host: &str,
    tls: &Connector,
    required: bool,
) -> Result<Stream, WireError> {
    let mut request = BytesMut::new();
    frontend::ssl_request(&mut request);
    tcp.write_all(&request).await?;
    match tcp.read_u8().await? {
        b'S' => Ok(tls.wrap(host, tcp).await?),
        b'N' if !required => Ok(Box::new(tcp)),
        b'N' => Err(WireError::Unsupported(
            "sslmode=require, and the server does not offer TLS".into(),
        )),
        other => Err(WireError::Protocol(format!(
            "unexpected answer to SSLRequest: {other:#04x}"
        ))),
    }
}

fn server_error(mut fields: ErrorFields<'_>) -> Result<ServerError, io::Error> {
    let mut error = ServerError {
        code: String::new(),
        message: String::new(),
        detail: None,
    };
    while let Some(field) = fields.next()? {
        let value = String::from_utf8_lossy(field.value_bytes()).into_owned();
        match field.type_() {
            b'C' => error.code = value,
            b'M' => error.message = value,
            b'D' => error.detail = Some(value),
            _ => {}
        }
    }
    Ok(error)
}

fn tag_name(message: &Message) -> &'static str {
    match message {
        Message::CommandComplete(_) => "CommandComplete",
        Message::ReadyForQuery(_) => "ReadyForQuery",
        Message::RowDescription(_) | Message::DataRow(_) => "rows",
        Message::CopyOutResponse(_) | Message::CopyInResponse(_) => "a COPY response",
        _ => "message",
    }
}

/// XLogData ('w') carrying a pgoutput message, or a keepalive ('k').
fn parse_copy_data(mut data: &[u8]) -> Result<Streamed, WireError> {
    let short = || WireError::Protocol("a replication message cut short".into());
    let u64_of = |data: &mut &[u8]| -> Result<u64, WireError> {
        (data.len() >= 8).then(|| data.get_u64()).ok_or_else(short)
    };
    match data.first() {
        Some(b'k') => {
            data.advance(1);
            let wal_end = u64_of(&mut data)?;
            let _send_time = u64_of(&mut data)?;
            let reply = data.first().copied().ok_or_else(short)? == 1;
            Ok(Streamed::Keepalive { wal_end, reply })
        }
        Some(b'w') => {
            data.advance(1);
            for _ in 0..3 {
                u64_of(&mut data)?; // start, end, send time
            }
            parse_pgoutput(data)
        }
        _ => Err(WireError::Protocol("unknown replication message".into())),
    }
}

/// pgoutput protocol version 1: BEGIN, MESSAGE, COMMIT; the rest skipped.
fn parse_pgoutput(mut data: &[u8]) -> Result<Streamed, WireError> {
    let short = || WireError::Protocol("a pgoutput message cut short".into());
    let need = |data: &[u8], n: usize| (data.len() >= n).then_some(()).ok_or_else(short);
    let Some(&tag) = data.first() else {
        return Err(short());
    };
    data.advance(1);
    match tag {
        b'B' => {
            need(data, 20)?;
            let final_lsn = data.get_u64();
            let commit_time = from_pg_time(data.get_i64());
            Ok(Streamed::Begin {
                final_lsn,
                commit_time,
            })
        }
        b'M' => {
            need(data, 9)?;
            let _transactional = data.get_u8();
            let _lsn = data.get_u64();
            let nul = data.iter().position(|&b| b == 0).ok_or_else(short)?;
            let prefix = String::from_utf8_lossy(&data[..nul]).into_owned();
            data.advance(nul + 1);
            need(data, 4)?;
            let len = data.get_u32() as usize;
            need(data, len)?;
            Ok(Streamed::Message {
                prefix,
                content: data[..len].to_vec(),
            })
        }
        b'C' => {
            need(data, 25)?;
            let _flags = data.get_u8();
            let commit_lsn = data.get_u64();
            let end_lsn = data.get_u64();
            Ok(Streamed::Commit {
                commit_lsn,
                end_lsn,
            })
        }
        _ => Ok(Streamed::Other),
    }
}

/// Microseconds since 2000-01-01, PostgreSQL's epoch.
const PG_EPOCH_SECS: u64 = 946_684_800;

fn pg_time(t: SystemTime) -> i64 {
    let unix = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    unix.as_micros() as i64 - (PG_EPOCH_SECS * 1_000_000) as i64
}

fn from_pg_time(micros: i64) -> SystemTime {
    let unix = micros + (PG_EPOCH_SECS * 1_000_000) as i64;
    UNIX_EPOCH + Duration::from_micros(unix.max(0) as u64)
}

/// `X/Y`, as PostgreSQL writes an LSN.
pub fn format_lsn(lsn: u64) -> String {
    format!("{:X}/{:X}", lsn >> 32, lsn & 0xffff_ffff)
}

fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsns_are_written_as_postgres_writes_them() {
        assert_eq!(format_lsn(0x1_0000_00A0), "1/A0");
        assert_eq!(format_lsn(0), "0/0");
    }

    #[test]
    fn pgoutput_messages() {
        let mut m = vec![b'M', 1];
        m.extend_from_slice(&7u64.to_be_bytes());
        m.extend_from_slice(b"pg_socketio\0");
        m.extend_from_slice(&3u32.to_be_bytes());
        m.extend_from_slice(b"abc");
        assert_eq!(
            parse_pgoutput(&m).unwrap(),
            Streamed::Message {
                prefix: "pg_socketio".into(),
                content: b"abc".to_vec()
            }
        );
        // Cut anywhere: an error, never a panic.
        for cut in 0..m.len() {
            assert!(parse_pgoutput(&m[..cut]).is_err(), "cut at {cut}");
        }
        let mut c = vec![b'C', 0];
        c.extend_from_slice(&10u64.to_be_bytes());
        c.extend_from_slice(&20u64.to_be_bytes());
        c.extend_from_slice(&0i64.to_be_bytes());
        assert_eq!(
            parse_pgoutput(&c).unwrap(),
            Streamed::Commit {
                commit_lsn: 10,
                end_lsn: 20
            }
        );
    }
}

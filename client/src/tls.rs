//! TLS for the durable listener's two connections, with the connector an
//! application already gives tokio-postgres (postgres-native-tls,
//! tokio-postgres-rustls): its SQL connection goes through tokio-postgres;
//! its replication connection, written by hand, is opened on a TCP stream
//! that the same connector wraps. Kept behind one trait object so that
//! `DurableListener` stays one type whatever the connector.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;

use tokio::net::TcpStream;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{Client, Config};

use crate::session::MakeTls;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A stream the replication connection reads and writes: TCP, Unix, or TLS.
pub(crate) type Stream = Box<dyn AsyncReadWrite>;
pub(crate) trait AsyncReadWrite:
    tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send
{
}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> AsyncReadWrite for T {}

/// What the durable listener needs of a connector.
pub(crate) trait DurableTls: Send + Sync {
    /// TLS on `tcp`, after the server accepted the SSLRequest, for `host`.
    fn wrap(&self, host: &str, tcp: TcpStream) -> BoxFuture<io::Result<Stream>>;
    /// A regular connection (tokio-postgres, spawned).
    fn sql(&self, config: &Config) -> BoxFuture<Result<Client, tokio_postgres::Error>>;
}

pub(crate) type Connector = Arc<dyn DurableTls>;

/// A TLS connector for the [`DurableListener`](crate::DurableListener):
/// one tokio-postgres takes ([`MakeTls`]) that also wraps a plain TCP
/// stream, as postgres-native-tls and tokio-postgres-rustls do (they are
/// generic over the stream).
pub trait MakeDurableTls:
    MakeTls + MakeTlsConnect<TcpStream, Stream = Self::TcpTls, TlsConnect = Self::TcpConnect>
{
    #[doc(hidden)]
    type TcpTls: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static;
    #[doc(hidden)]
    type TcpConnect: TlsConnect<TcpStream, Stream = Self::TcpTls, Future = Self::TcpConnectFuture>
        + Send;
    #[doc(hidden)]
    type TcpConnectFuture: Future<Output = Result<Self::TcpTls, <Self::TcpConnect as TlsConnect<TcpStream>>::Error>>
        + Send;
}

impl<T> MakeDurableTls for T
where
    T: MakeTls + MakeTlsConnect<TcpStream>,
    <T as MakeTlsConnect<TcpStream>>::Stream: Send + 'static,
    <T as MakeTlsConnect<TcpStream>>::TlsConnect: Send,
    <<T as MakeTlsConnect<TcpStream>>::TlsConnect as TlsConnect<TcpStream>>::Future: Send,
{
    type TcpTls = <T as MakeTlsConnect<TcpStream>>::Stream;
    type TcpConnect = <T as MakeTlsConnect<TcpStream>>::TlsConnect;
    type TcpConnectFuture =
        <<T as MakeTlsConnect<TcpStream>>::TlsConnect as TlsConnect<TcpStream>>::Future;
}

pub(crate) fn connector<T: MakeDurableTls>(tls: T) -> Connector {
    Arc::new(Wrapper(tls))
}

struct Wrapper<T>(T);

impl<T: MakeDurableTls> DurableTls for Wrapper<T> {
    fn wrap(&self, host: &str, tcp: TcpStream) -> BoxFuture<io::Result<Stream>> {
        let connect = MakeTlsConnect::<TcpStream>::make_tls_connect(&mut self.0.clone(), host)
            .map_err(io::Error::other);
        Box::pin(async move {
            let stream = connect?.connect(tcp).await.map_err(io::Error::other)?;
            Ok(Box::new(stream) as Stream)
        })
    }

    fn sql(&self, config: &Config) -> BoxFuture<Result<Client, tokio_postgres::Error>> {
        let (config, tls) = (config.clone(), self.0.clone());
        Box::pin(async move {
            let (client, connection) = config.connect(tls).await?;
            tokio::spawn(connection);
            Ok(client)
        })
    }
}

//! A session's logs and its terminal WebSocket, over the daemon's Unix socket or TCP.

use crate::{Client, ClientError, Endpoint, Pace, error_reply, session_path};
use clauderon_types::terminal::{SessionEnv, SessionLogs, TerminalMessage};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use hyper::Method;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// A byte stream to the daemon, whichever listener it is.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

pub(crate) type Socket = WebSocketStream<Box<dyn Io>>;

/// What the daemon sends on a terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TerminalEvent {
    /// Bytes the session's process wrote.
    Output(Vec<u8>),
    /// The session attaches by running this program on this machine (a zellij session).
    Command { program: String, args: Vec<String> },
    /// The process ended or the daemon closed the terminal.
    Closed,
}

/// The receiving half of a terminal.
pub struct TerminalReader(SplitStream<Socket>);

/// The sending half: keystrokes and window sizes.
pub struct TerminalWriter(SplitSink<Socket, Message>);

impl TerminalReader {
    pub async fn next(&mut self) -> Result<TerminalEvent, ClientError> {
        loop {
            match self.0.next().await {
                None | Some(Ok(Message::Close(_))) => return Ok(TerminalEvent::Closed),
                Some(Ok(Message::Binary(b))) => return Ok(TerminalEvent::Output(b.to_vec())),
                Some(Ok(Message::Text(t))) => match serde_json::from_str::<TerminalMessage>(&t) {
                    Ok(TerminalMessage::Command { program, args }) => {
                        return Ok(TerminalEvent::Command { program, args });
                    }
                    _ => continue,
                },
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(ClientError::Protocol(format!("terminal stream: {e}"))),
            }
        }
    }
}

impl TerminalWriter {
    pub async fn input(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        self.send(Message::Binary(bytes.to_vec().into())).await
    }

    pub async fn resize(&mut self, cols: u16, rows: u16) -> Result<(), ClientError> {
        let text = serde_json::to_string(&TerminalMessage::Resize { cols, rows })
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        self.send(Message::Text(text.into())).await
    }

    /// Detach: the session keeps running.
    pub async fn close(&mut self) {
        let _ = self.0.send(Message::Close(None)).await;
    }

    async fn send(&mut self, m: Message) -> Result<(), ClientError> {
        self.0.send(m).await.map_err(|e| ClientError::Protocol(format!("terminal stream: {e}")))
    }
}

impl Client {
    /// The last `tail` lines of a session's output.
    pub async fn logs(&self, name: &str, tail: usize) -> Result<String, ClientError> {
        let target = format!("{}?tail={tail}", session_path(name, "/logs")?);
        let logs: SessionLogs = self.call(Method::GET, &target, None::<&()>, Pace::Quick).await?;
        Ok(logs.text)
    }

    /// The session's environment as its process got it, proxy passwords masked.
    pub async fn env(&self, name: &str) -> Result<Vec<(String, String)>, ClientError> {
        let env: SessionEnv =
            self.call(Method::GET, &session_path(name, "/env")?, None::<&()>, Pace::Quick).await?;
        Ok(env.vars)
    }

    /// Open a session's terminal. Any number of clients may watch one session.
    pub async fn terminal(&self, name: &str) -> Result<(TerminalReader, TerminalWriter), ClientError> {
        // The name is checked the same way as for every other session route.
        let path = session_path(name, "/terminal")?.replacen("/api/sessions/", "/ws/sessions/", 1);
        let socket = self.websocket(&path).await?;
        let (sink, stream) = socket.split();
        Ok((TerminalReader(stream), TerminalWriter(sink)))
    }

    /// Open a WebSocket to `path` on whichever listener the endpoint names, with the token.
    pub(crate) async fn websocket(&self, path: &str) -> Result<Socket, ClientError> {
        let endpoint = self.endpoint();
        let unreachable = |reason: String| ClientError::Unreachable { endpoint: endpoint.clone(), reason };
        let (io, host, token): (Box<dyn Io>, String, Option<String>) = match endpoint {
            Endpoint::Unix(p) => {
                let s = tokio::net::UnixStream::connect(p).await.map_err(|e| {
                    ClientError::DaemonNotRunning { endpoint: endpoint.clone(), reason: e.to_string() }
                })?;
                (Box::new(s), "localhost".into(), None)
            }
            Endpoint::Http { authority, token } => {
                let s = tokio::net::TcpStream::connect(authority.as_str()).await.map_err(|e| {
                    ClientError::DaemonNotRunning { endpoint: endpoint.clone(), reason: e.to_string() }
                })?;
                (Box::new(s), authority.clone(), token.as_ref().map(|t| t.expose().to_string()))
            }
        };
        let mut request = format!("ws://{host}{path}")
            .into_client_request()
            .map_err(|e| unreachable(format!("building the WebSocket request: {e}")))?;
        if let Some(token) = token {
            let value = format!("Bearer {token}")
                .parse()
                .map_err(|_| ClientError::Protocol("the API token is not a valid header value".into()))?;
            request.headers_mut().insert("authorization", value);
        }
        match tokio_tungstenite::client_async(request, io).await {
            Ok((socket, _)) => Ok(socket),
            Err(WsError::Http(resp)) => {
                let body = resp.body().clone().unwrap_or_default();
                Err(error_reply(&Method::GET, path, resp.status().as_u16(), &body))
            }
            Err(e) => Err(unreachable(format!("opening {path}: {e}"))),
        }
    }
}

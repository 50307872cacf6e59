//! A link's bytes: the handshake (preambles, the Noise channel of `parrhesia_net::cluster::secure`,
//! then the signed hellos inside it) and the reader and writer that carry frames through the
//! channel's records for the link's whole life. `link.rs` runs links on top of them; nothing
//! here knows the link's queues or the cluster executor.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures_lite::io::{AsyncReadExt, AsyncWriteExt};
use futures_lite::{AsyncRead, AsyncWrite};
use parrhesia_net::NodeKey;
use parrhesia_net::cluster::frame::{FrameError, Hello, Message, PROTOCOL_VERSION, Setting, body_length};
use parrhesia_net::cluster::handshake::{self, Admission, Exchanged, HandshakeError, Role};
use parrhesia_net::cluster::secure::{
    Encryption, NoiseHandshake, Opener, PREAMBLE_BYTES, Preamble, RECORD_PLAIN_MAX, Sealer, SecureError, record_length,
};

pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest hello or auth frame read before the peer is authenticated.
const HANDSHAKE_FRAME_BYTES_MAX: usize = 16 * 1024;

/// Why the cluster executor closed a link (kept in `LinkShared::closed`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum CloseCause {
    Open = 0,
    /// Closed by this node: shutdown, or the link's shard stopping.
    Closed = 1,
    /// Another link to the peer is kept.
    Duplicate = 2,
    /// The peer broke the protocol.
    Protocol = 3,
    /// The peer let control or replication frames pile up past their bound.
    QueueFull = 4,
    /// Nothing heard for `SILENCE_TIMEOUT`.
    Silent = 5,
    /// The node is stopping (not a failure).
    Shutdown = 6,
    /// A reloaded configuration no longer allows the peer.
    NotAllowed = 7,
}

/// Why a link ended.
#[derive(Debug)]
pub enum LinkEnd {
    Handshake(HandshakeError),
    /// The channel failed: a preamble refused, or a record that does not authenticate.
    Secure(SecureError),
    Io(std::io::Error),
    Frame(FrameError),
    /// An authenticated peer sent an event that is not one (not JSON, wrong id, a bad
    /// signature): the frame is dropped whole and the link closed, so the event is pulled
    /// again rather than passed over.
    InvalidEvent(String),
    Timeout(&'static str),
    /// Closed by the cluster executor (the cause) or by this shard.
    Closed(u8),
}

impl LinkEnd {
    /// The reason label of `parrhesia_cluster_link_failures_total`.
    pub fn reason(&self) -> &'static str {
        match self {
            LinkEnd::Handshake(HandshakeError::BadSignature) => "bad_signature",
            LinkEnd::Handshake(HandshakeError::NotAllowed(_)) => "not_allowed",
            LinkEnd::Handshake(HandshakeError::OtherCluster(_)) => "other_cluster",
            LinkEnd::Handshake(_) => "handshake",
            LinkEnd::Secure(SecureError::Tampered | SecureError::RecordLength(_)) => "tampered",
            LinkEnd::Secure(SecureError::PlaintextPeer) => "plaintext_peer",
            LinkEnd::Secure(SecureError::PeerRequiresEncryption) => "encryption_mismatch",
            LinkEnd::Secure(SecureError::NotALink) => "not_a_link",
            LinkEnd::Secure(_) => "handshake",
            LinkEnd::Io(_) => "io",
            LinkEnd::Frame(_) => "bad_frame",
            LinkEnd::InvalidEvent(_) => "invalid_event",
            LinkEnd::Timeout(_) => "timeout",
            LinkEnd::Closed(cause) if *cause == CloseCause::Duplicate as u8 => "duplicate",
            LinkEnd::Closed(cause) if *cause == CloseCause::Protocol as u8 => "protocol",
            LinkEnd::Closed(cause) if *cause == CloseCause::QueueFull as u8 => "queue_full",
            LinkEnd::Closed(cause) if *cause == CloseCause::Silent as u8 => "silent",
            LinkEnd::Closed(cause) if *cause == CloseCause::Shutdown as u8 => "shutdown",
            LinkEnd::Closed(cause) if *cause == CloseCause::NotAllowed as u8 => "not_allowed",
            LinkEnd::Closed(_) => "closed",
        }
    }
}

impl std::fmt::Display for LinkEnd {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkEnd::Handshake(error) => write!(formatter, "handshake refused: {error}"),
            LinkEnd::Secure(error) => write!(formatter, "{error}"),
            LinkEnd::Io(error) => write!(formatter, "{error}"),
            LinkEnd::Frame(error) => write!(formatter, "{error}"),
            LinkEnd::InvalidEvent(reason) => write!(formatter, "an invalid event from the peer: {reason}"),
            LinkEnd::Timeout(what) => write!(formatter, "{what}"),
            LinkEnd::Closed(_) => write!(formatter, "closed ({})", self.reason()),
        }
    }
}

impl From<SecureError> for LinkEnd {
    fn from(error: SecureError) -> LinkEnd {
        LinkEnd::Secure(error)
    }
}

/// Reads a link's frames, opening its records first when it is encrypted.
pub struct LinkReader<R> {
    inner: R,
    opener: Option<Opener>,
    /// The last record's plaintext, and how much of it was taken.
    plain: Vec<u8>,
    taken: usize,
    record: Vec<u8>,
}

impl<R: AsyncRead + Unpin> LinkReader<R> {
    fn new(inner: R, opener: Option<Opener>) -> Self {
        LinkReader { inner, opener, plain: Vec::new(), taken: 0, record: Vec::new() }
    }

    async fn read_exact(&mut self, out: &mut [u8]) -> Result<(), LinkEnd> {
        let LinkReader { inner, opener, plain, taken, record } = self;
        let Some(opener) = opener else {
            return inner.read_exact(out).await.map_err(LinkEnd::Io);
        };
        let mut filled = 0;
        while filled < out.len() {
            if *taken == plain.len() {
                let mut header = [0; 2];
                inner.read_exact(&mut header).await.map_err(LinkEnd::Io)?;
                record.resize(record_length(header)?, 0);
                inner.read_exact(record).await.map_err(LinkEnd::Io)?;
                plain.clear();
                *taken = 0;
                opener.open(record, plain)?;
                continue;
            }
            let count = (out.len() - filled).min(plain.len() - *taken);
            out[filled..filled + count].copy_from_slice(&plain[*taken..*taken + count]);
            (filled, *taken) = (filled + count, *taken + count);
        }
        Ok(())
    }

    /// Reads one frame body (type and payload), refusing a length over `limit` before reading
    /// it, calling `progress` as each piece of a large frame arrives (a link busy with one big
    /// batch is not silent).
    pub async fn read_body(&mut self, limit: usize, mut progress: impl FnMut()) -> Result<Vec<u8>, LinkEnd> {
        const PIECE_BYTES: usize = 64 * 1024;
        let mut header = [0; 4];
        self.read_exact(&mut header).await?;
        let length = body_length(header, limit).map_err(LinkEnd::Frame)?;
        let mut body = vec![0; length];
        for piece in body.chunks_mut(PIECE_BYTES) {
            self.read_exact(piece).await?;
            progress();
        }
        Ok(body)
    }
}

/// Writes a link's frames, sealing them into records when it is encrypted. Frames are gathered
/// into records of up to `RECORD_PLAIN_MAX` bytes; `flush` seals and sends what is left.
pub struct LinkWriter<W> {
    inner: W,
    sealer: Option<Sealer>,
    pending: Vec<u8>,
    sealed: Vec<u8>,
}

impl<W: AsyncWrite + Unpin> LinkWriter<W> {
    fn new(inner: W, sealer: Option<Sealer>) -> Self {
        LinkWriter { inner, sealer, pending: Vec::new(), sealed: Vec::new() }
    }

    pub async fn write_frame(&mut self, frame: &[u8]) -> std::io::Result<()> {
        if self.sealer.is_none() {
            return self.inner.write_all(frame).await;
        }
        self.pending.extend_from_slice(frame);
        if self.pending.len() >= RECORD_PLAIN_MAX {
            let whole = self.pending.len() / RECORD_PLAIN_MAX * RECORD_PLAIN_MAX;
            self.send_sealed(whole).await?;
        }
        Ok(())
    }

    /// Seals the first `bytes` of what is pending and writes the records.
    async fn send_sealed(&mut self, bytes: usize) -> std::io::Result<()> {
        let Some(sealer) = &mut self.sealer else { return Ok(()) };
        self.sealed.clear();
        sealer.seal(&self.pending[..bytes], &mut self.sealed).map_err(std::io::Error::other)?;
        self.pending.drain(..bytes);
        self.inner.write_all(&self.sealed).await
    }

    pub async fn flush(&mut self) -> std::io::Result<()> {
        if !self.pending.is_empty() {
            self.send_sealed(self.pending.len()).await?;
        }
        self.inner.flush().await
    }

    pub async fn close(&mut self) -> std::io::Result<()> {
        self.flush().await?;
        self.inner.close().await
    }
}

/// What a reload may change about the links a node makes: who may link, and the address it
/// advertises. One per node, shared by its shards and its cluster executor.
#[derive(Clone, Debug)]
pub struct Terms {
    pub admission: Admission,
    pub advertise: String,
}

pub type SharedTerms = Arc<RwLock<Terms>>;

/// The node's current terms, read (a panic while they were held left a whole value behind).
pub fn read_terms(terms: &SharedTerms) -> std::sync::RwLockReadGuard<'_, Terms> {
    terms.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Who this node is to its peers, and how it protects its links.
pub struct Party {
    pub key: NodeKey,
    pub encryption: Encryption,
    pub terms: SharedTerms,
    /// The settings peers compare with theirs (`crate::cluster::shared_settings`).
    pub settings: Vec<Setting>,
}

/// A link past its handshake.
pub struct Linked<R, W> {
    pub reader: LinkReader<R>,
    pub writer: LinkWriter<W>,
    /// The peer's hello (its key is authenticated).
    pub hello: Hello,
    pub own_nonce: [u8; 32],
}

impl Party {
    /// The handshake: preambles both ways (the peer's mode, version and claimed key checked),
    /// the Noise channel when both encrypt, then hellos and signatures over the channel's hash
    /// and both hellos, inside it.
    pub async fn handshake<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
        &self,
        mut reader: R,
        mut writer: W,
        role: Role,
        epoch: u64,
    ) -> Result<Linked<R, W>, LinkEnd> {
        // The terms when the handshake began (a reload meanwhile applies to the next one; the
        // cluster executor closes links to peers it no longer allows).
        let Terms { admission, advertise } = read_terms(&self.terms).clone();
        let own_preamble = Preamble::new(self.encryption, self.key.public());
        writer.write_all(&own_preamble.encode()).await.map_err(LinkEnd::Io)?;
        writer.flush().await.map_err(LinkEnd::Io)?;
        let mut peer_bytes = [0; PREAMBLE_BYTES];
        reader.read_exact(&mut peer_bytes).await.map_err(LinkEnd::Io)?;
        let peer_preamble = own_preamble.decode_peer(&peer_bytes)?;
        admission.check_key(&peer_preamble.key).map_err(LinkEnd::Handshake)?;
        let (mut reader, mut writer, channel) = match self.encryption {
            Encryption::Off => (LinkReader::new(reader, None), LinkWriter::new(writer, None), Vec::new()),
            Encryption::Required => {
                let own_bytes = own_preamble.encode();
                let (dialer, acceptor) = match role {
                    Role::Dialer => (&own_bytes, &peer_bytes),
                    Role::Acceptor => (&peer_bytes, &own_bytes),
                };
                let (sealer, opener, hash) = match role {
                    Role::Dialer => {
                        let mut noise = NoiseHandshake::dialer(dialer, acceptor)?;
                        write_message(&mut writer, &noise.write()?).await?;
                        noise.read(&read_message(&mut reader).await?)?;
                        noise.finish()?
                    }
                    Role::Acceptor => {
                        let mut noise = NoiseHandshake::acceptor(dialer, acceptor)?;
                        noise.read(&read_message(&mut reader).await?)?;
                        write_message(&mut writer, &noise.write()?).await?;
                        noise.finish()?
                    }
                };
                (LinkReader::new(reader, Some(opener)), LinkWriter::new(writer, Some(sealer)), hash.to_vec())
            }
        };
        let nonce = handshake::fresh_nonce().map_err(|error| LinkEnd::Io(std::io::Error::other(error.to_string())))?;
        let hello = Hello {
            version: PROTOCOL_VERSION,
            cluster_id: admission.cluster_id.clone(),
            public_key: self.key.public(),
            nonce,
            epoch,
            advertise,
            // Sent after authentication (the replicator's first frame), not to strangers.
            heads: Vec::new(),
            settings: self.settings.clone(),
        };
        let own_frame = Message::Hello(hello.clone()).encode();
        writer.write_frame(&own_frame).await.map_err(LinkEnd::Io)?;
        writer.flush().await.map_err(LinkEnd::Io)?;
        let peer_body = reader.read_body(HANDSHAKE_FRAME_BYTES_MAX, || {}).await?;
        let Message::Hello(peer) = Message::decode(&peer_body).map_err(LinkEnd::Frame)? else {
            return Err(LinkEnd::Handshake(HandshakeError::Unexpected("another frame")));
        };
        admission.check_hello(&hello, &peer).map_err(LinkEnd::Handshake)?;
        if peer.public_key != peer_preamble.key {
            return Err(LinkEnd::Handshake(HandshakeError::PreambleKey));
        }
        let own_body = &own_frame[4..];
        let (dialer_hello, acceptor_hello) = match role {
            Role::Dialer => (own_body, &peer_body[..]),
            Role::Acceptor => (&peer_body[..], own_body),
        };
        let exchanged = Exchanged { channel: &channel, dialer_hello, acceptor_hello };
        let signature = handshake::sign(&self.key, role, exchanged);
        writer.write_frame(&Message::Auth(signature).encode()).await.map_err(LinkEnd::Io)?;
        writer.flush().await.map_err(LinkEnd::Io)?;
        let auth_body = reader.read_body(HANDSHAKE_FRAME_BYTES_MAX, || {}).await?;
        let Message::Auth(peer_signature) = Message::decode(&auth_body).map_err(LinkEnd::Frame)? else {
            return Err(LinkEnd::Handshake(HandshakeError::Unexpected("another frame")));
        };
        handshake::verify_peer(&peer.public_key, role, exchanged, &peer_signature).map_err(LinkEnd::Handshake)?;
        Ok(Linked { reader, writer, hello: peer, own_nonce: nonce })
    }
}

async fn write_message(writer: &mut (impl AsyncWrite + Unpin), message: &[u8]) -> Result<(), LinkEnd> {
    writer.write_all(message).await.map_err(LinkEnd::Io)?;
    writer.flush().await.map_err(LinkEnd::Io)
}

/// A Noise handshake message, without its length.
async fn read_message(reader: &mut (impl AsyncRead + Unpin)) -> Result<Vec<u8>, LinkEnd> {
    let mut header = [0; 2];
    reader.read_exact(&mut header).await.map_err(LinkEnd::Io)?;
    let mut message = vec![0; record_length(header)?];
    reader.read_exact(&mut message).await.map_err(LinkEnd::Io)?;
    Ok(message)
}

pub async fn with_timeout<T>(
    what: &'static str,
    future: impl Future<Output = Result<T, LinkEnd>>,
) -> Result<T, LinkEnd> {
    futures_lite::future::or(future, async {
        glommio::timer::sleep(HANDSHAKE_TIMEOUT).await;
        Err(LinkEnd::Timeout(what))
    })
    .await
}

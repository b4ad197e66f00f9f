//! A minimal NFSv4 client for the storage tests, written from RFC 5531
//! (ONC RPC), RFC 4506 (XDR) and RFC 8881 (NFSv4.1): COMPOUNDs over TCP
//! with record marking, as AUTH_SYS uid/gid, enough to prove what a
//! server serves without a kernel NFS client (this machine's kernel has
//! none). [`exchange_id`] at a minor version: 4.1 and later answer
//! `NFS4_OK` to EXCHANGE_ID, a 4.0-only server does not know the
//! operation or the minor version. A [`Session`] (a client of its own,
//! EXCHANGE_ID, CREATE_SESSION, RECLAIM_COMPLETE) creates and writes a
//! file, reads one, and asks its owner.

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    time::Duration,
};

/// NFS4_OK.
pub const NFS4_OK: u32 = 0;
/// NFS4ERR_NOENT.
pub const NFS4ERR_NOENT: u32 = 2;
/// Permission denied.
pub const NFS4ERR_ACCESS: u32 = 13;
/// NFS4ERR_MINOR_VERS_MISMATCH.
pub const NFS4ERR_MINOR_VERS_MISMATCH: u32 = 10021;
/// NFS4ERR_OP_NOT_IN_SESSION: a 4.1 operation sent outside a session.
pub const NFS4ERR_OP_NOT_IN_SESSION: u32 = 10071;

const NFS_PROGRAM: u32 = 100_003;
const COMPOUND: u32 = 1;
const OP_PUTROOTFH: u32 = 24;
const OP_EXCHANGE_ID: u32 = 42;

struct Xdr(Vec<u8>);

impl Xdr {
    fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// Variable-length opaque: length, bytes, padding to four.
    fn opaque(&mut self, bytes: &[u8]) -> &mut Self {
        self.u32(bytes.len() as u32);
        self.0.extend_from_slice(bytes);
        self.0.resize(self.0.len().div_ceil(4) * 4, 0);
        self
    }
}

/// One COMPOUND at `minor` with `ops` (already encoded, opcode first),
/// as uid/gid 0: the COMPOUND's status.
fn compound(server: SocketAddr, minor: u32, ops: &[Vec<u8>]) -> std::io::Result<u32> {
    let reply = compound_reply(server, 0, minor, ops)?;
    Reader {
        bytes: &reply,
        at: 0,
    }
    .u32()
}

/// EXCHANGE_ID at minor version `minor`: the COMPOUND's status.
pub fn exchange_id(server: SocketAddr, minor: u32) -> std::io::Result<u32> {
    compound(server, minor, &[exchange_id_op("azlin-nfs-probe")])
}

/// EXCHANGE_ID for the client `owner`.
fn exchange_id_op(owner: &str) -> Vec<u8> {
    let mut op = Xdr(Vec::new());
    op.u32(OP_EXCHANGE_ID);
    op.0.extend_from_slice(b"azlinver"); // verifier4, fixed 8 bytes
    op.opaque(owner.as_bytes())
        .u32(0) // flags
        .u32(0) // SP4_NONE
        .u32(0); // no implementation id
    op.0
}

/// PUTROOTFH alone at minor version `minor` (outside any session).
pub fn putrootfh(server: SocketAddr, minor: u32) -> std::io::Result<u32> {
    let mut op = Xdr(Vec::new());
    op.u32(OP_PUTROOTFH);
    compound(server, minor, &[op.0])
}

/// A reply being read, four bytes at a time.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn u32(&mut self) -> std::io::Result<u32> {
        let b = self
            .bytes
            .get(self.at..self.at + 4)
            .ok_or_else(|| std::io::Error::other("a short NFS reply"))?;
        self.at += 4;
        Ok(u32::from_be_bytes(b.try_into().unwrap()))
    }

    fn u64(&mut self) -> std::io::Result<u64> {
        Ok((u64::from(self.u32()?) << 32) | u64::from(self.u32()?))
    }

    fn fixed(&mut self, n: usize) -> std::io::Result<&[u8]> {
        let b = self
            .bytes
            .get(self.at..self.at + n)
            .ok_or_else(|| std::io::Error::other("a short NFS reply"))?;
        self.at += n.div_ceil(4) * 4;
        Ok(b)
    }

    fn opaque(&mut self) -> std::io::Result<Vec<u8>> {
        let n = self.u32()? as usize;
        Ok(self.fixed(n)?.to_vec())
    }
}

/// The COMPOUND's raw reply after the RPC header: status, tag, results.
fn compound_reply(
    server: SocketAddr,
    uid: u32,
    minor: u32,
    ops: &[Vec<u8>],
) -> std::io::Result<Vec<u8>> {
    let mut call = Xdr(Vec::new());
    call.u32(0x617a_6c6f)
        .u32(0)
        .u32(2)
        .u32(NFS_PROGRAM)
        .u32(4)
        .u32(COMPOUND);
    let mut cred = Xdr(Vec::new());
    cred.u32(0).opaque(b"azlin-test").u32(uid).u32(uid).u32(0);
    call.u32(1).opaque(&cred.0);
    call.u32(0).opaque(&[]);
    call.opaque(b"").u32(minor).u32(ops.len() as u32);
    for op in ops {
        call.0.extend_from_slice(op);
    }
    let mut stream = TcpStream::connect_timeout(&server, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mark = 0x8000_0000u32 | call.0.len() as u32;
    stream.write_all(&mark.to_be_bytes())?;
    stream.write_all(&call.0)?;
    let mut header = [0u8; 4];
    stream.read_exact(&mut header)?;
    let len = (u32::from_be_bytes(header) & 0x7fff_ffff) as usize;
    let mut reply = vec![0u8; len];
    stream.read_exact(&mut reply)?;
    let mut r = Reader {
        bytes: &reply,
        at: 0,
    };
    let (_xid, kind, stat) = (r.u32()?, r.u32()?, r.u32()?);
    if kind != 1 || stat != 0 {
        return Err(std::io::Error::other("the RPC call was not accepted"));
    }
    let _flavor = r.u32()?;
    r.opaque()?;
    if r.u32()? != 0 {
        return Err(std::io::Error::other("the RPC call failed"));
    }
    Ok(reply[r.at..].to_vec())
}

/// An NFS 4.1 session with a server, as one user (AUTH_SYS uid = gid).
pub struct Session {
    server: SocketAddr,
    uid: u32,
    id: [u8; 16],
    sequence: u32,
}

const OP_LOOKUP: u32 = 15;
const OP_OPEN: u32 = 18;
const OP_READ: u32 = 25;
const OP_WRITE: u32 = 38;
const OP_GETATTR: u32 = 9;
const OP_CREATE_SESSION: u32 = 43;
const OP_SEQUENCE: u32 = 53;
const OP_RECLAIM_COMPLETE: u32 = 58;
/// FATTR4_OWNER, bit 36: word 1, bit 4.
const OWNER_WORD1: u32 = 1 << 4;

impl Session {
    /// A client of its own (`owner` names it) and a session on it.
    pub fn open(server: SocketAddr, owner: &str, uid: u32) -> std::io::Result<Session> {
        let reply = compound_reply(server, uid, 1, &[exchange_id_op(owner)])?;
        let mut r = Reader {
            bytes: &reply,
            at: 0,
        };
        let status = r.u32()?;
        if status != NFS4_OK {
            return Err(std::io::Error::other(format!("EXCHANGE_ID: {status}")));
        }
        r.opaque()?; // tag
        r.u32()?; // results
        r.u32()?; // opnum
        r.u32()?; // status
        let clientid = r.u64()?;
        let sequence = r.u32()?;
        let mut op = Xdr(Vec::new());
        op.u32(OP_CREATE_SESSION)
            .u32((clientid >> 32) as u32)
            .u32(clientid as u32)
            .u32(sequence)
            .u32(0);
        for _ in 0..2 {
            // channel attributes: pad, max request, max response, cached,
            // max operations, max requests, no RDMA.
            op.u32(0)
                .u32(1 << 20)
                .u32(1 << 20)
                .u32(4096)
                .u32(16)
                .u32(1)
                .u32(0);
        }
        op.u32(0x4000_0000).u32(1).u32(0); // callback program, AUTH_NONE
        let reply = compound_reply(server, uid, 1, &[op.0])?;
        let mut r = Reader {
            bytes: &reply,
            at: 0,
        };
        let status = r.u32()?;
        if status != NFS4_OK {
            return Err(std::io::Error::other(format!("CREATE_SESSION: {status}")));
        }
        r.opaque()?;
        r.u32()?;
        r.u32()?;
        r.u32()?;
        let id: [u8; 16] = r.fixed(16)?.try_into().unwrap();
        let mut session = Session {
            server,
            uid,
            id,
            sequence: 1,
        };
        // A new client has nothing to reclaim: it says so before it
        // opens anything (RFC 8881 18.51), or OPEN answers NFS4ERR_GRACE.
        let mut reclaimed = Xdr(Vec::new());
        reclaimed.u32(OP_RECLAIM_COMPLETE).u32(0);
        let status = session.sequenced(vec![reclaimed.0])?;
        // NFS4ERR_COMPLETE_ALREADY: this client (owner) said so before.
        if status != NFS4_OK && status != 10054 {
            return Err(std::io::Error::other(format!("RECLAIM_COMPLETE: {status}")));
        }
        Ok(session)
    }

    /// SEQUENCE then `ops`: the COMPOUND's status.
    fn sequenced(&mut self, ops: Vec<Vec<u8>>) -> std::io::Result<u32> {
        let mut all = vec![self.sequence_op()];
        all.extend(ops);
        let reply = compound_reply(self.server, self.uid, 1, &all)?;
        Reader {
            bytes: &reply,
            at: 0,
        }
        .u32()
    }

    fn sequence_op(&mut self) -> Vec<u8> {
        let mut seq = Xdr(Vec::new());
        seq.u32(OP_SEQUENCE);
        seq.0.extend_from_slice(&self.id);
        seq.u32(self.sequence).u32(0).u32(0).u32(0);
        self.sequence += 1;
        seq.0
    }

    /// SEQUENCE, PUTROOTFH, LOOKUP each of `path`, then `ops`: the reply
    /// from the first of `ops`'s results on, and the COMPOUND's status.
    fn call(&mut self, path: &[&str], ops: Vec<Vec<u8>>) -> std::io::Result<(u32, Vec<u8>)> {
        let mut all = vec![self.sequence_op()];
        all.push(Xdr(OP_PUTROOTFH.to_be_bytes().to_vec()).0);
        for name in path {
            let mut op = Xdr(Vec::new());
            op.u32(OP_LOOKUP).opaque(name.as_bytes());
            all.push(op.0);
        }
        let before = all.len();
        all.extend(ops);
        let reply = compound_reply(self.server, self.uid, 1, &all)?;
        let mut r = Reader {
            bytes: &reply,
            at: 0,
        };
        let status = r.u32()?;
        r.opaque()?;
        let results = r.u32()? as usize;
        if results < before + 1 {
            return Ok((status, Vec::new()));
        }
        // SEQUENCE's result: opnum, status, session, five words.
        r.u32()?;
        r.u32()?;
        r.fixed(16)?;
        for _ in 0..5 {
            r.u32()?;
        }
        // PUTROOTFH and each LOOKUP: opnum and status.
        for _ in 1..before {
            r.u32()?;
            r.u32()?;
        }
        Ok((status, reply[r.at..].to_vec()))
    }

    /// Create `dir/name` (unchecked, mode 0644) and write `data` at its
    /// start.
    pub fn write(&mut self, dir: &str, name: &str, data: &[u8]) -> std::io::Result<u32> {
        let mut open = Xdr(Vec::new());
        open.u32(OP_OPEN)
            .u32(0) // seqid
            .u32(3) // share access both
            .u32(0) // deny none
            .u32(0)
            .u32(0) // open owner's clientid (the session's)
            .opaque(b"azlin-probe-owner")
            .u32(1) // OPEN4_CREATE
            .u32(0) // UNCHECKED4
            .u32(2) // attribute bitmap: FATTR4_MODE (33)
            .u32(0)
            .u32(1 << 1)
            .opaque(&0o644u32.to_be_bytes())
            .u32(0) // CLAIM_NULL
            .opaque(name.as_bytes());
        let mut write = Xdr(Vec::new());
        write.u32(OP_WRITE);
        // The current stateid (RFC 8881 16.2.3.1.2): seqid 1, other zero.
        write.u32(1).u32(0).u32(0).u32(0);
        write.u32(0).u32(0).u32(2).opaque(data); // offset 0, FILE_SYNC4
        Ok(self.call(&[dir], vec![open.0, write.0])?.0)
    }

    /// Read `dir/name` from its start (anonymous stateid).
    pub fn read(&mut self, dir: &str, name: &str) -> std::io::Result<Result<Vec<u8>, u32>> {
        let mut read = Xdr(Vec::new());
        read.u32(OP_READ).u32(0).u32(0).u32(0).u32(0);
        read.u32(0).u32(0).u32(1 << 16);
        let (status, rest) = self.call(&[dir, name], vec![read.0])?;
        if status != NFS4_OK {
            return Ok(Err(status));
        }
        let mut r = Reader {
            bytes: &rest,
            at: 0,
        };
        r.u32()?; // opnum
        r.u32()?; // status
        r.u32()?; // eof
        Ok(Ok(r.opaque()?))
    }

    /// The owner of `dir/name`, as the server names it.
    pub fn owner(&mut self, dir: &str, name: &str) -> std::io::Result<Result<String, u32>> {
        let mut getattr = Xdr(Vec::new());
        getattr.u32(OP_GETATTR).u32(2).u32(0).u32(OWNER_WORD1);
        let (status, rest) = self.call(&[dir, name], vec![getattr.0])?;
        if status != NFS4_OK {
            return Ok(Err(status));
        }
        let mut r = Reader {
            bytes: &rest,
            at: 0,
        };
        r.u32()?;
        r.u32()?;
        let words = r.u32()?;
        for _ in 0..words {
            r.u32()?;
        }
        let attrs = r.opaque()?;
        let mut a = Reader {
            bytes: &attrs,
            at: 0,
        };
        Ok(Ok(String::from_utf8_lossy(&a.opaque()?).into_owned()))
    }
}

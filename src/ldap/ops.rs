//! The protocol handler: `(session, message) -> answer`, testable without sockets.
//! Errors of the core are mapped to LDAP result codes here and in `bind`, once.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use ldap3_proto::control::LdapControl;
use ldap3_proto::proto::{
    LdapCompareRequest, LdapExtendedRequest, LdapExtendedResponse, LdapFilter, LdapMsg, LdapOp,
    LdapResult, LdapResultCode, LdapSearchRequest, LdapSearchScope,
};

use crate::directory::DirError;

use super::acl::{self, Viewer};
use super::cache::View;
use super::dit::{self, Key, Source, Unresolved};
use super::filter::{self, Tri};
use super::paging::Paging;
use super::search::{self, Bounds, Selection, Shortfall};
use super::{Face, Session};

/// What the connection does once the answer is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    /// Read the next message.
    Continue,
    /// Start TLS on the connection (the answer is the StartTLS response).
    StartTls,
    /// Close the connection.
    Close,
}

/// One message of an answer: to encode, or already encoded (search result entries,
/// written straight to BER by `ber`).
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// A message ldap3_proto encodes.
    Message(LdapMsg),
    /// A whole LDAPMessage, encoded.
    Encoded(Vec<u8>),
}

/// The kind of an operation, as the metrics count it ([`crate::metrics::LDAP_OPS`]).
pub fn kind_of(op: &LdapOp) -> &'static str {
    match op {
        LdapOp::BindRequest(_) => "bind",
        LdapOp::SearchRequest(_) => "search",
        LdapOp::CompareRequest(_) => "compare",
        LdapOp::ExtendedRequest(_) => "extended",
        LdapOp::UnbindRequest => "unbind",
        LdapOp::AddRequest(_)
        | LdapOp::ModifyRequest(_)
        | LdapOp::DelRequest(_)
        | LdapOp::ModifyDNRequest(_) => "write",
        _ => "other",
    }
}

impl Answer {
    /// Whether the operation succeeded: its final result says so (a compare's true or
    /// false is an answer, so a success), or it needed none (unbind, abandon).
    pub fn succeeded(&self) -> bool {
        let Some(last) = self.messages.last() else {
            return true;
        };
        let Reply::Message(msg) = last else {
            return true;
        };
        let code = match &msg.op {
            LdapOp::BindResponse(r) => &r.res.code,
            LdapOp::SearchResultDone(r) | LdapOp::CompareResult(r) => &r.code,
            LdapOp::ExtendedResponse(r) => &r.res.code,
            _ => return false,
        };
        matches!(
            code,
            LdapResultCode::Success | LdapResultCode::CompareTrue | LdapResultCode::CompareFalse
        )
    }
}

impl Reply {
    /// The message itself, decoded again when it was encoded here; None when it does
    /// not decode (never for what `ber` writes). For the handler's tests.
    #[cfg(test)]
    pub fn decoded(&self) -> Option<LdapMsg> {
        use tokio_util::codec::Decoder;
        match self {
            Reply::Message(m) => Some(m.clone()),
            Reply::Encoded(bytes) => {
                let mut buf = tokio_util::bytes::BytesMut::from(bytes.as_slice());
                ldap3_proto::LdapCodec::new(Some(1 << 30), None)
                    .decode(&mut buf)
                    .ok()
                    .flatten()
            }
        }
    }
}

impl From<LdapMsg> for Reply {
    fn from(m: LdapMsg) -> Reply {
        Reply::Message(m)
    }
}

/// The messages answering one request, and what follows.
#[derive(Debug)]
pub struct Answer {
    /// Messages to write, in order.
    pub messages: Vec<Reply>,
    /// What the connection does next.
    pub after: After,
}

impl Answer {
    fn one(msgid: i32, op: LdapOp) -> Answer {
        Answer {
            messages: vec![Reply::Message(LdapMsg {
                msgid,
                op,
                ctrl: Vec::new(),
            })],
            after: After::Continue,
        }
    }

    fn none(after: After) -> Answer {
        Answer {
            messages: Vec::new(),
            after,
        }
    }
}

/// A result with a code and a diagnostic message.
pub fn result(code: LdapResultCode, message: impl Into<String>) -> LdapResult {
    LdapResult {
        code,
        matcheddn: String::new(),
        message: message.into(),
        referral: Vec::new(),
    }
}

fn success() -> LdapResult {
    result(LdapResultCode::Success, "")
}

/// Why writes are refused.
const READ_ONLY: &str = "this directory is read-only over LDAP: accounts, services and habilitations are managed in the APEX web space or through its JSON API (/api/v1)";

/// The Notice of Disconnection (RFC 4511 §4.4.1) sent before closing on an error.
pub fn notice_of_disconnection(code: LdapResultCode, message: &str) -> LdapMsg {
    LdapMsg {
        msgid: 0,
        op: LdapOp::ExtendedResponse(LdapExtendedResponse {
            res: result(code, message),
            name: Some(dit::OID_NOTICE_OF_DISCONNECTION.to_owned()),
            value: None,
        }),
        ctrl: Vec::new(),
    }
}

/// The OID of a critical control this server does not support, if any.
fn unsupported_critical(ctrl: &[LdapControl], is_search: bool) -> Option<String> {
    ctrl.iter().find_map(|c| match c {
        LdapControl::SimplePagedResults { .. } if is_search => None,
        LdapControl::ManageDsaIT { .. } => None,
        LdapControl::Unknown {
            oid,
            criticality: true,
            ..
        } => Some(oid.clone()),
        LdapControl::SyncRequest {
            criticality: true, ..
        } => Some("1.3.6.1.4.1.4203.1.9.1.1".to_owned()),
        LdapControl::PasswordPolicyRequest { criticality: true } => {
            Some("1.3.6.1.4.1.42.2.27.8.5.1".to_owned())
        }
        LdapControl::SearchOptions {
            criticality: true, ..
        } => Some("1.2.840.113556.1.4.1340".to_owned()),
        LdapControl::ShowDeleted { criticality: true } => Some("1.2.840.113556.1.4.417".to_owned()),
        LdapControl::SdFlags {
            criticality: true, ..
        } => Some("1.2.840.113556.1.4.801".to_owned()),
        LdapControl::ExtendedDn {
            criticality: true, ..
        } => Some("1.2.840.113556.1.4.529".to_owned()),
        _ => None,
    })
}

/// The response operation of a request, carrying `res` (None: the request has none).
fn response_op(op: &LdapOp, res: LdapResult) -> Option<LdapOp> {
    Some(match op {
        LdapOp::BindRequest(_) => LdapOp::BindResponse(ldap3_proto::proto::LdapBindResponse {
            res,
            saslcreds: None,
        }),
        LdapOp::SearchRequest(_) => LdapOp::SearchResultDone(res),
        LdapOp::ModifyRequest(_) => LdapOp::ModifyResponse(res),
        LdapOp::AddRequest(_) => LdapOp::AddResponse(res),
        LdapOp::DelRequest(_) => LdapOp::DelResponse(res),
        LdapOp::ModifyDNRequest(_) => LdapOp::ModifyDNResponse(res),
        LdapOp::CompareRequest(_) => LdapOp::CompareResult(res),
        LdapOp::ExtendedRequest(_) => LdapOp::ExtendedResponse(LdapExtendedResponse {
            res,
            name: None,
            value: None,
        }),
        _ => return None,
    })
}

impl Face {
    /// Answers one request of a session.
    pub async fn handle(&self, session: &mut Session, msg: LdapMsg) -> Answer {
        let LdapMsg { msgid, op, ctrl } = msg;
        let is_search = matches!(op, LdapOp::SearchRequest(_));
        if let Some(oid) = unsupported_critical(&ctrl, is_search) {
            let res = result(
                LdapResultCode::UnavailableCriticalExtension,
                format!("control {oid} is not supported"),
            );
            return match response_op(&op, res) {
                Some(op) => Answer::one(msgid, op),
                None => Answer::none(After::Continue),
            };
        }
        // Nodes sharing one database: see what the others wrote before answering.
        if !matches!(op, LdapOp::UnbindRequest | LdapOp::AbandonRequest(_))
            && let Err(e) = self.dir.follow_changes()
        {
            return match response_op(&op, refusal(&e)) {
                Some(op) => Answer::one(msgid, op),
                None => Answer::none(After::Continue),
            };
        }
        match op {
            LdapOp::BindRequest(req) => {
                let res = self.bind(session, &req).await;
                Answer::one(
                    msgid,
                    LdapOp::BindResponse(ldap3_proto::proto::LdapBindResponse {
                        res,
                        saslcreds: None,
                    }),
                )
            }
            LdapOp::UnbindRequest => Answer::none(After::Close),
            LdapOp::AbandonRequest(_) => Answer::none(After::Continue),
            LdapOp::SearchRequest(req) => self.search(session, msgid, &req, &ctrl),
            LdapOp::CompareRequest(req) => {
                Answer::one(msgid, LdapOp::CompareResult(self.compare(session, &req)))
            }
            LdapOp::ExtendedRequest(req) => self.extended(session, msgid, &req).await,
            op @ (LdapOp::AddRequest(_)
            | LdapOp::ModifyRequest(_)
            | LdapOp::DelRequest(_)
            | LdapOp::ModifyDNRequest(_)) => {
                let res = result(LdapResultCode::UnwillingToPerform, READ_ONLY);
                match response_op(&op, res) {
                    Some(op) => Answer::one(msgid, op),
                    None => Answer::none(After::Continue),
                }
            }
            // A response or an intermediate message from a client breaks the protocol.
            _ => Answer {
                messages: vec![Reply::Message(notice_of_disconnection(
                    LdapResultCode::ProtocolError,
                    "a client sent a server message",
                ))],
                after: After::Close,
            },
        }
    }

    async fn extended(
        &self,
        session: &mut Session,
        msgid: i32,
        req: &LdapExtendedRequest,
    ) -> Answer {
        let reply = |res: LdapResult, name: Option<&str>, value: Option<Vec<u8>>| {
            Answer::one(
                msgid,
                LdapOp::ExtendedResponse(LdapExtendedResponse {
                    res,
                    name: name.map(str::to_owned),
                    value,
                }),
            )
        };
        match req.name.as_str() {
            dit::OID_WHOAMI => {
                let authz = match self.current_dn(session) {
                    Some(dn) => format!("dn:{dn}"),
                    None => String::new(),
                };
                reply(success(), None, Some(authz.into_bytes()))
            }
            dit::OID_STARTTLS => {
                if session.tls {
                    reply(
                        result(
                            LdapResultCode::OperationsError,
                            "TLS is already established",
                        ),
                        Some(dit::OID_STARTTLS),
                        None,
                    )
                } else if !session.tls_available {
                    reply(
                        result(LdapResultCode::Unavailable, "TLS is not configured"),
                        Some(dit::OID_STARTTLS),
                        None,
                    )
                } else {
                    let mut answer = reply(success(), Some(dit::OID_STARTTLS), None);
                    answer.after = After::StartTls;
                    answer
                }
            }
            dit::OID_PASSWORD_MODIFY => reply(self.password_modify(session, req).await, None, None),
            other => reply(
                result(
                    LdapResultCode::ProtocolError,
                    format!("extended operation {other} is not supported"),
                ),
                None,
                None,
            ),
        }
    }

    /// The DN the session acts as now (an account blocked since its bind has none).
    fn current_dn(&self, session: &Session) -> Option<String> {
        match acl::viewer(&self.dir, &self.dir.catalogue(), &session.identity).is_nobody() {
            true => None,
            false => session.identity.dn().map(str::to_owned),
        }
    }

    /// Resolves a DN for a reader: hidden entries are absent, with the closest visible
    /// ancestor as matchedDN.
    fn locate(&self, viewer: &Viewer<'_>, dn: &str) -> Result<Key, LdapResult> {
        let missing = |matched: Key| -> LdapResult {
            let mut at = Some(matched);
            while let Some(k) = at {
                if viewer.sees(&self.dir, &k).unwrap_or(false) {
                    let mut res = result(LdapResultCode::NoSuchObject, "no such entry");
                    res.matcheddn = self.tree.dn_of(&self.dir, &k).unwrap_or_default();
                    return res;
                }
                at = k.parent();
            }
            result(LdapResultCode::NoSuchObject, "no such entry")
        };
        match self.tree.resolve(&self.dir, dn) {
            Ok(found) => match viewer.sees(&self.dir, &found.key) {
                Ok(true) => Ok(self.tree.remember(&self.dir, found)),
                Ok(false) => Err(missing(found.key.parent().unwrap_or(Key::RootDse))),
                Err(e) => Err(internal(&e)),
            },
            Err(Unresolved::Invalid(m)) => Err(result(LdapResultCode::InvalidDNSyntax, m)),
            Err(Unresolved::NoSuchObject { matched }) => Err(missing(matched)),
        }
    }

    /// The entry of a key as a reader sees it; None when it vanished (or, for an
    /// account, when the reader may not see it). Entries of accounts, structures and
    /// services come from the entry cache while their object has not changed.
    fn visible_entry(
        &self,
        viewer: &Viewer<'_>,
        key: &Key,
    ) -> Result<Option<Arc<dit::Entry>>, LdapResult> {
        if let Some(e) = search::special(&self.tree, &self.definitions, key) {
            return Ok(Some(Arc::new(e)));
        }
        let dir = &self.dir;
        let Some(source) = self.tree.source_of(dir, key).map_err(|e| internal(&e))? else {
            // The base, containers, profile groups and applications (or what vanished).
            let entry = self.tree.entry(dir, key).map_err(|e| internal(&e))?;
            return Ok(entry.map(|mut e| {
                viewer.restrict(&self.tree, key, &mut e);
                Arc::new(e)
            }));
        };
        // An account is read once, for its visibility and its entry.
        if let Source::Account(a) = &source
            && !viewer.sees_account(a)
        {
            return Ok(None);
        }
        let build = || -> crate::directory::DirResult<Option<dit::Entry>> {
            Ok(self.tree.built_from(dir, &source)?.map(|mut e| {
                viewer.restrict(&self.tree, key, &mut e);
                e
            }))
        };
        self.entries
            .get_or_build(key, View::of(viewer, key), source.clone(), build)
            .map_err(|e| internal(&e))
    }

    fn compare(&self, session: &Session, req: &LdapCompareRequest) -> LdapResult {
        let catalogue = self.dir.catalogue();
        let viewer = acl::viewer(&self.dir, &catalogue, &session.identity);
        let key = match self.locate(&viewer, &req.dn) {
            Ok(k) => k,
            Err(res) => return res,
        };
        let entry = match self.visible_entry(&viewer, &key) {
            Ok(Some(e)) => e,
            Ok(None) => return result(LdapResultCode::NoSuchObject, "no such entry"),
            Err(res) => return res,
        };
        let Some(ty) = super::schema::lookup(&req.atype) else {
            return result(
                LdapResultCode::UndefinedAttributeType,
                format!("unknown attribute {}", req.atype),
            );
        };
        if !entry.attrs.iter().any(|a| ty.covers(a.ty)) {
            return result(LdapResultCode::NoSuchAttribute, "no such attribute");
        }
        let Ok(value) = String::from_utf8(req.val.clone()) else {
            return result(LdapResultCode::CompareFalse, "");
        };
        match filter::evaluate(&LdapFilter::Equality(req.atype.clone(), value), &entry) {
            Tri::True => result(LdapResultCode::CompareTrue, ""),
            Tri::False => result(LdapResultCode::CompareFalse, ""),
            Tri::Undefined => result(
                LdapResultCode::InvalidAttributeSyntax,
                "the value does not fit the attribute's syntax",
            ),
        }
    }

    fn search(
        &self,
        session: &mut Session,
        msgid: i32,
        req: &LdapSearchRequest,
        ctrl: &[LdapControl],
    ) -> Answer {
        let mut messages = Vec::new();
        let (res, ctrl_out) = self.search_into(session, msgid, req, ctrl, &mut messages);
        messages.push(Reply::Message(LdapMsg {
            msgid,
            op: LdapOp::SearchResultDone(res),
            ctrl: ctrl_out,
        }));
        Answer {
            messages,
            after: After::Continue,
        }
    }

    /// Runs a search, pushing its entries; returns the final result and its controls.
    fn search_into(
        &self,
        session: &mut Session,
        msgid: i32,
        req: &LdapSearchRequest,
        ctrl: &[LdapControl],
        out: &mut Vec<Reply>,
    ) -> (LdapResult, Vec<LdapControl>) {
        let started = Instant::now();
        let limits = &self.limits;
        if filter::elements(&req.filter) > limits.max_filter_elements {
            return (
                result(
                    LdapResultCode::AdminLimitExceeded,
                    format!(
                        "the filter has more than {} elements",
                        limits.max_filter_elements
                    ),
                ),
                Vec::new(),
            );
        }
        let catalogue = self.dir.catalogue();
        let viewer = acl::viewer(&self.dir, &catalogue, &session.identity);
        let base = match self.locate(&viewer, &req.base) {
            Ok(k) => k,
            Err(res) => return (res, Vec::new()),
        };
        let time_limit = match u64::try_from(req.timelimit) {
            Ok(secs) if secs > 0 => limits.time_limit.min(std::time::Duration::from_secs(secs)),
            _ => limits.time_limit,
        };
        let client_size = usize::try_from(req.sizelimit).ok().filter(|n| *n > 0);
        let paged = ctrl.iter().find_map(|c| match c {
            LdapControl::SimplePagedResults { size, cookie } => Some((*size, cookie.clone())),
            _ => None,
        });
        let selection = Selection::new(&req.attrs);
        // Only a paged search needs it (formatting a filter costs); kept as a digest,
        // so that a huge filter costs no memory between pages.
        let fingerprint = match paged {
            Some(_) => {
                let text = format!(
                    "{:?}|{}|{:?}|{:?}|{:?}|{}",
                    session.identity, req.base, req.scope, req.filter, req.attrs, req.typesonly
                );
                ring::digest::digest(&ring::digest::SHA256, text.as_bytes())
                    .as_ref()
                    .to_vec()
            }
            None => Vec::new(),
        };

        // The keys to examine: a fresh search, or what a paging cookie left.
        let bounds = |max_keys| Bounds {
            started,
            time_limit,
            max_keys,
        };
        let continued = paged.as_ref().is_some_and(|(_, c)| !c.is_empty());
        let (mut keys, returned_before, share) = match &paged {
            Some((_, cookie)) if !cookie.is_empty() => {
                let Some(at) = session.pagings.iter().position(|p| &p.cookie == cookie) else {
                    return (
                        result(
                            LdapResultCode::UnwillingToPerform,
                            "unknown or expired paging cookie",
                        ),
                        Vec::new(),
                    );
                };
                let Some(p) = session.pagings.remove(at) else {
                    return (
                        result(LdapResultCode::OperationsError, "paging state lost"),
                        Vec::new(),
                    );
                };
                if p.fingerprint != fingerprint {
                    return (
                        result(
                            LdapResultCode::UnwillingToPerform,
                            "a paging cookie must be sent with the same search",
                        ),
                        Vec::new(),
                    );
                }
                if paged.as_ref().is_some_and(|(size, _)| *size == 0) {
                    // A page size of 0 abandons the search: its keys are given back.
                    return (success(), vec![paged_control(Vec::new())]);
                }
                (p.keys, p.returned, Some(p.share))
            }
            // A page size of 0 abandons the paged search (the cookie's state is gone).
            Some((0, _)) => return (success(), vec![paged_control(Vec::new())]),
            // A fresh search; a paged one may keep only so many candidates.
            _ => {
                let most = bounds(paged.as_ref().map(|_| limits.max_paged_keys));
                match self.initial_keys(&viewer, &base, &req.scope, &req.filter, most) {
                    Ok(keys) => (keys, 0, None),
                    Err(res) => return (res, Vec::new()),
                }
            }
        };

        let page_size = match &paged {
            Some((size, _)) => usize::try_from(*size)
                .unwrap_or(limits.size_limit)
                .clamp(1, limits.size_limit),
            None => limits.size_limit,
        };
        // A paged search is capped by the client's limit only; one page by the server's.
        let total_cap = match &paged {
            Some(_) => client_size,
            None => Some(client_size.map_or(limits.size_limit, |c| c.min(limits.size_limit))),
        };

        let first_entry = out.len();
        let mut returned = returned_before;
        let mut in_page = 0;
        let mut code = LdapResultCode::Success;
        while let Some(key) = keys.pop_front() {
            let page_full = paged.is_some() && in_page >= page_size;
            if started.elapsed() > time_limit {
                if page_full {
                    // The page is whole: the next one goes on from here.
                    keys.push_front(key);
                } else {
                    code = LdapResultCode::TimeLimitExceeded;
                    keys.clear();
                }
                break;
            }
            let entry = match self.matching_entry(&viewer, &key, &req.filter, continued) {
                Ok(Some(e)) => e,
                Ok(None) => continue,
                Err(res) => return (res, Vec::new()),
            };
            if page_full {
                // A cookie only when another entry will be returned: it then tells
                // nothing the next page would not show.
                keys.push_front(key);
                break;
            }
            if total_cap.is_some_and(|cap| returned >= cap) {
                code = LdapResultCode::SizeLimitExceeded;
                keys.clear();
                break;
            }
            out.push(Reply::Encoded(search::encode(
                msgid,
                &entry,
                &selection,
                req.typesonly,
                key == Key::RootDse,
            )));
            returned += 1;
            in_page += 1;
        }
        let message = match code {
            LdapResultCode::SizeLimitExceeded => "size limit exceeded".to_owned(),
            LdapResultCode::TimeLimitExceeded => "time limit exceeded".to_owned(),
            _ => String::new(),
        };
        let res = result(code, message);
        if paged.is_none() {
            return (res, Vec::new());
        }
        if keys.is_empty() {
            return (res, vec![paged_control(Vec::new())]);
        }
        // A connection keeps a few paged searches; beyond, its oldest is forgotten (and
        // gives its share back first).
        if share.is_none() && session.pagings.len() >= limits.max_paged_searches {
            session.pagings.pop_front();
        }
        // What is kept between pages takes its share of the server's budget: a search
        // read in one page takes none.
        let share = match share {
            Some(mut s) => {
                s.shrink_to(keys.len());
                s
            }
            None => match self.paged_keys.reserve(keys.len()) {
                Some(s) => s,
                None => {
                    out.truncate(first_entry);
                    return (
                        result(
                            LdapResultCode::Busy,
                            "the server holds as many paged results as it may now: retry \
                             later, or narrow the search",
                        ),
                        Vec::new(),
                    );
                }
            },
        };
        let cookie = uuid::Uuid::new_v4().as_bytes().to_vec();
        session.pagings.push_back(Paging {
            cookie: cookie.clone(),
            fingerprint,
            keys,
            returned,
            share,
        });
        (res, vec![paged_control(cookie)])
    }

    /// The keys a new search examines, in order.
    fn initial_keys(
        &self,
        viewer: &Viewer<'_>,
        base: &Key,
        scope: &LdapSearchScope,
        filter: &LdapFilter,
        bounds: Bounds,
    ) -> Result<VecDeque<Key>, LdapResult> {
        let (base, scope) = match (base, scope) {
            (Key::RootDse, LdapSearchScope::Base) | (Key::Subschema, _) => {
                let only = matches!(scope, LdapSearchScope::OneLevel).then_some(());
                return Ok(match only {
                    Some(()) => VecDeque::new(),
                    None => VecDeque::from([base.clone()]),
                });
            }
            // Below the root DSE is the naming context.
            (Key::RootDse, LdapSearchScope::OneLevel) => (Key::Base, LdapSearchScope::Base),
            (Key::RootDse, _) => (Key::Base, LdapSearchScope::Subtree),
            (b, s) => (b.clone(), s.clone()),
        };
        match search::candidates(&self.dir, viewer, &base, &scope, filter, &bounds) {
            Ok(keys) => Ok(VecDeque::from(keys)),
            Err(Shortfall::Core(e)) => Err(internal(&e)),
            Err(Shortfall::TimeLimit) => Err(result(
                LdapResultCode::TimeLimitExceeded,
                "time limit exceeded while gathering the candidate entries",
            )),
            Err(Shortfall::TooMany(max)) => Err(result(
                LdapResultCode::AdminLimitExceeded,
                format!(
                    "a paged search may keep at most {max} candidate entries: narrow its base \
                     or its filter"
                ),
            )),
        }
    }

    /// The entry of a key when the reader sees it and the filter is TRUE on what he sees.
    fn matching_entry(
        &self,
        viewer: &Viewer<'_>,
        key: &Key,
        filter: &LdapFilter,
        recheck: bool,
    ) -> Result<Option<Arc<dit::Entry>>, LdapResult> {
        // Later pages re-check visibility: the directory may have changed meanwhile
        // (accounts are checked by `visible_entry` every time).
        if recheck
            && !matches!(key, Key::Account(_))
            && !viewer.sees(&self.dir, key).map_err(|e| internal(&e))?
        {
            return Ok(None);
        }
        let Some(entry) = self.visible_entry(viewer, key)? else {
            return Ok(None);
        };
        Ok((filter::evaluate(filter, &entry) == Tri::True).then_some(entry))
    }
}

fn paged_control(cookie: Vec<u8>) -> LdapControl {
    LdapControl::SimplePagedResults { size: 0, cookie }
}

/// The core's refusals as LDAP results (RFC 4511 codes): the face's one mapping.
pub fn refusal(e: &DirError) -> LdapResult {
    match e {
        DirError::TooManyAttempts { retry_after } => result(
            LdapResultCode::Busy,
            format!("too many failed attempts: retry in {retry_after} s"),
        ),
        // A wrong secret, an unknown name, or an account that is no longer an active
        // one: the same answer, which tells nothing of which.
        DirError::BadCredentials | DirError::Unauthenticated | DirError::NotFound { .. } => {
            result(LdapResultCode::InvalidCredentials, "invalid credentials")
        }
        DirError::Invalid {
            rule: "wrong-current-password",
            ..
        } => result(
            LdapResultCode::InvalidCredentials,
            "the current password is wrong",
        ),
        DirError::Invalid { message, .. } => {
            result(LdapResultCode::ConstraintViolation, message.clone())
        }
        DirError::Conflict { .. } => result(LdapResultCode::Busy, e.to_string()),
        DirError::Refused(_) | DirError::Forbidden { .. } => {
            result(LdapResultCode::InsufficentAccessRights, e.to_string())
        }
        DirError::Unavailable(why) => {
            tracing::warn!(error = %why, "ldap: store unavailable");
            result(
                LdapResultCode::Unavailable,
                "the directory's database is unavailable; retry shortly",
            )
        }
        other => internal(other),
    }
}

/// A failure of the core, as an LDAP result (details logged, not sent).
pub fn internal(e: &DirError) -> LdapResult {
    tracing::error!(error = %e, "ldap: core error");
    result(LdapResultCode::Other, "internal error; see the server log")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ldap3_proto::proto::{LdapDerefAliases, LdapSearchRequest};

    use super::*;
    use crate::config::{Argon2Config, Config};
    use crate::ldap::{Face, Session};

    fn face(dir: &std::path::Path) -> Face {
        let mut config = Config::default();
        config.server.data_dir = dir.join("data");
        config.argon2 = Argon2Config {
            m_kib: 64,
            t: 1,
            p: 1,
        };
        let clock = Arc::new(crate::clock::ManualClock::new());
        let directory = crate::server::open_directory(&config, clock).unwrap();
        Face::new(directory, &config.ldap, Arc::default()).unwrap()
    }

    fn msg(op: LdapOp) -> LdapMsg {
        LdapMsg {
            msgid: 7,
            op,
            ctrl: Vec::new(),
        }
    }

    fn code(answer: &Answer) -> LdapResultCode {
        match &answer.messages.last().unwrap().decoded().unwrap().op {
            LdapOp::SearchResultDone(r)
            | LdapOp::AddResponse(r)
            | LdapOp::DelResponse(r)
            | LdapOp::CompareResult(r) => r.code.clone(),
            LdapOp::ExtendedResponse(r) => r.res.code.clone(),
            LdapOp::BindResponse(r) => r.res.code.clone(),
            other => panic!("{other:?}"),
        }
    }

    fn root_dse_search() -> LdapOp {
        LdapOp::SearchRequest(LdapSearchRequest {
            base: String::new(),
            scope: LdapSearchScope::Base,
            aliases: LdapDerefAliases::Never,
            sizelimit: 0,
            timelimit: 0,
            typesonly: false,
            filter: LdapFilter::Present("objectClass".into()),
            attrs: vec!["namingContexts".into()],
        })
    }

    #[tokio::test]
    async fn the_handler_answers_without_sockets() {
        let tmp = tempfile::tempdir().unwrap();
        let face = face(tmp.path());
        let mut s = Session::new([127, 0, 0, 1].into(), false, false);

        let answer = face.handle(&mut s, msg(root_dse_search())).await;
        assert_eq!(answer.messages.len(), 2);
        let decoded: Vec<LdapMsg> = answer
            .messages
            .iter()
            .map(|m| m.decoded().unwrap())
            .collect();
        assert!(decoded.iter().all(|m| m.msgid == 7));
        match &decoded[0].op {
            LdapOp::SearchResultEntry(e) => {
                assert_eq!(e.dn, "");
                assert_eq!(e.attributes.len(), 1, "only namingContexts was asked for");
                assert_eq!(e.attributes[0].atype, "namingContexts");
                assert_eq!(
                    e.attributes[0].vals,
                    vec![b"dc=apex,dc=dgfip,dc=gouv,dc=fr".to_vec()]
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(code(&answer), LdapResultCode::Success);

        let add = LdapOp::DelRequest("uid=x,ou=people,dc=apex,dc=dgfip,dc=gouv,dc=fr".into());
        let answer = face.handle(&mut s, msg(add)).await;
        assert_eq!(code(&answer), LdapResultCode::UnwillingToPerform);

        let starttls = LdapOp::ExtendedRequest(LdapExtendedRequest {
            name: dit::OID_STARTTLS.into(),
            value: None,
        });
        let answer = face.handle(&mut s, msg(starttls)).await;
        assert_eq!(code(&answer), LdapResultCode::Unavailable, "no TLS here");
        assert_eq!(answer.after, After::Continue);

        let unknown = LdapOp::ExtendedRequest(LdapExtendedRequest {
            name: "1.2.3.4".into(),
            value: None,
        });
        let answer = face.handle(&mut s, msg(unknown)).await;
        assert_eq!(code(&answer), LdapResultCode::ProtocolError);

        let mut critical = msg(root_dse_search());
        critical.ctrl.push(LdapControl::Unknown {
            oid: "1.2.3.4".into(),
            criticality: true,
            value: None,
        });
        let answer = face.handle(&mut s, critical).await;
        assert_eq!(code(&answer), LdapResultCode::UnavailableCriticalExtension);

        let answer = face.handle(&mut s, msg(LdapOp::AbandonRequest(3))).await;
        assert!(answer.messages.is_empty());
        let answer = face.handle(&mut s, msg(LdapOp::UnbindRequest)).await;
        assert_eq!(answer.after, After::Close);
    }

    #[tokio::test]
    async fn a_server_message_from_a_client_ends_the_connection() {
        let tmp = tempfile::tempdir().unwrap();
        let face = face(tmp.path());
        let mut s = Session::new([127, 0, 0, 1].into(), false, true);
        let answer = face
            .handle(&mut s, msg(LdapOp::SearchResultDone(success())))
            .await;
        assert_eq!(answer.after, After::Close);
        assert_eq!(
            answer.messages[0].decoded().unwrap().msgid,
            0,
            "a Notice of Disconnection"
        );
    }
}

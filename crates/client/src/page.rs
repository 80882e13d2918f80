//! [`Page`]: paging parameters for `GET /api/messages/:channelId`.

/// Paging parameters for [`Client::messages`](crate::Client::messages). `Page::default()` asks for the newest page of
/// the server's default size (50).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Page {
    /// Only messages with `seq < before` (the newest `limit` of them).
    pub before: Option<i64>,
    /// Only messages with `seq > after` (the oldest `limit` of them).
    pub after: Option<i64>,
    /// Page size; the server accepts 1–100 and answers `invalid_query` otherwise.
    pub limit: Option<u32>,
}

impl Page {
    /// The newest `limit` messages.
    pub fn latest(limit: u32) -> Self {
        Self { limit: Some(limit), ..Self::default() }
    }

    /// The newest `limit` messages older than `seq`.
    pub fn before(seq: i64, limit: u32) -> Self {
        Self { before: Some(seq), limit: Some(limit), ..Self::default() }
    }

    /// The oldest `limit` messages newer than `seq`.
    pub fn after(seq: i64, limit: u32) -> Self {
        Self { after: Some(seq), limit: Some(limit), ..Self::default() }
    }

    pub(crate) fn query(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        if let Some(b) = self.before {
            q.push(("before", b.to_string()));
        }
        if let Some(a) = self.after {
            q.push(("after", a.to_string()));
        }
        if let Some(l) = self.limit {
            q.push(("limit", l.to_string()));
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_query_has_only_given_fields() {
        assert!(Page::default().query().is_empty());
        assert_eq!(Page::before(7, 10).query(), vec![("before", "7".to_string()), ("limit", "10".to_string())]);
        assert_eq!(Page::after(3, 2).query()[0], ("after", "3".to_string()));
        assert_eq!(Page::latest(5).query(), vec![("limit", "5".to_string())]);
    }
}

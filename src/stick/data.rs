//! The data types a stick table stores (`store conn_cnt,http_req_rate(10s),...`), in
//! HAProxy 2.6's order, which is also the order `show table` prints them in.

use super::freq::Freq;

/// A data type of a stick table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Data {
    /// The server a `stick` rule sends the key to (its id).
    ServerId,
    /// General purpose tag 0.
    Gpt0,
    /// General purpose counter 0.
    Gpc0,
    /// Rate of gpc0 increments.
    Gpc0Rate,
    /// Connections (tracking starts).
    ConnCnt,
    /// Connection rate.
    ConnRate,
    /// Current connections (active trackers).
    ConnCur,
    /// Sessions.
    SessCnt,
    /// Session rate.
    SessRate,
    /// HTTP requests.
    HttpReqCnt,
    /// HTTP request rate.
    HttpReqRate,
    /// HTTP errors (4xx responses).
    HttpErrCnt,
    /// HTTP error rate.
    HttpErrRate,
    /// Bytes from the client.
    BytesInCnt,
    /// Rate of bytes from the client.
    BytesInRate,
    /// Bytes to the client.
    BytesOutCnt,
    /// Rate of bytes to the client.
    BytesOutRate,
    /// General purpose counter 1.
    Gpc1,
    /// Rate of gpc1 increments.
    Gpc1Rate,
    /// The server a `stick` rule sends the key to (its name).
    ServerKey,
    /// HTTP failures (5xx responses from servers).
    HttpFailCnt,
    /// HTTP failure rate.
    HttpFailRate,
}

/// Every data type, in HAProxy's order.
pub const ALL: [Data; 22] = [
    Data::ServerId,
    Data::Gpt0,
    Data::Gpc0,
    Data::Gpc0Rate,
    Data::ConnCnt,
    Data::ConnRate,
    Data::ConnCur,
    Data::SessCnt,
    Data::SessRate,
    Data::HttpReqCnt,
    Data::HttpReqRate,
    Data::HttpErrCnt,
    Data::HttpErrRate,
    Data::BytesInCnt,
    Data::BytesInRate,
    Data::BytesOutCnt,
    Data::BytesOutRate,
    Data::Gpc1,
    Data::Gpc1Rate,
    Data::ServerKey,
    Data::HttpFailCnt,
    Data::HttpFailRate,
];

impl Data {
    /// HAProxy's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Data::ServerId => "server_id",
            Data::Gpt0 => "gpt0",
            Data::Gpc0 => "gpc0",
            Data::Gpc0Rate => "gpc0_rate",
            Data::ConnCnt => "conn_cnt",
            Data::ConnRate => "conn_rate",
            Data::ConnCur => "conn_cur",
            Data::SessCnt => "sess_cnt",
            Data::SessRate => "sess_rate",
            Data::HttpReqCnt => "http_req_cnt",
            Data::HttpReqRate => "http_req_rate",
            Data::HttpErrCnt => "http_err_cnt",
            Data::HttpErrRate => "http_err_rate",
            Data::BytesInCnt => "bytes_in_cnt",
            Data::BytesInRate => "bytes_in_rate",
            Data::BytesOutCnt => "bytes_out_cnt",
            Data::BytesOutRate => "bytes_out_rate",
            Data::Gpc1 => "gpc1",
            Data::Gpc1Rate => "gpc1_rate",
            Data::ServerKey => "server_key",
            Data::HttpFailCnt => "http_fail_cnt",
            Data::HttpFailRate => "http_fail_rate",
        }
    }

    /// The data type called `name`.
    pub fn named(name: &str) -> Option<Data> {
        ALL.iter().copied().find(|d| d.name() == name)
    }

    /// Its position in HAProxy's order.
    pub fn index(self) -> usize {
        self as usize
    }

    /// A rate over a period (written `name(period)`).
    pub fn is_rate(self) -> bool {
        matches!(
            self,
            Data::Gpc0Rate
                | Data::ConnRate
                | Data::SessRate
                | Data::HttpReqRate
                | Data::HttpErrRate
                | Data::BytesInRate
                | Data::BytesOutRate
                | Data::Gpc1Rate
                | Data::HttpFailRate
        )
    }

    /// The rate that goes with a counter (`gpc0` → `gpc0_rate`).
    pub fn rate_of(self) -> Option<Data> {
        Some(match self {
            Data::Gpc0 => Data::Gpc0Rate,
            Data::Gpc1 => Data::Gpc1Rate,
            Data::ConnCnt => Data::ConnRate,
            Data::SessCnt => Data::SessRate,
            Data::HttpReqCnt => Data::HttpReqRate,
            Data::HttpErrCnt => Data::HttpErrRate,
            Data::BytesInCnt => Data::BytesInRate,
            Data::BytesOutCnt => Data::BytesOutRate,
            Data::HttpFailCnt => Data::HttpFailRate,
            _ => return None,
        })
    }
}

/// One stored value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Val {
    /// A counter or tag.
    Num(u64),
    /// A rate.
    Rate(Freq),
    /// A server name (`server_key`).
    Text(String),
}

impl Val {
    /// The initial value of a data type.
    pub fn new(d: Data) -> Val {
        if d.is_rate() {
            Val::Rate(Freq::default())
        } else if d == Data::ServerKey {
            Val::Text(String::new())
        } else {
            Val::Num(0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_in_order() {
        for (i, d) in ALL.iter().enumerate() {
            assert_eq!(d.index(), i);
            assert_eq!(Data::named(d.name()), Some(*d));
        }
    }
}

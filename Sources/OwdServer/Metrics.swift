import COwdHTTP
import OwdCore
#if canImport(Glibc)
import Glibc
#endif

/// `GET /metrics` of `owd serve`, in Prometheus' text exposition format (0.0.4): requests
/// by operation and status and their latency (relaxed atomic counters, one slot per
/// operation and status, so the request path takes no lock), and the store's gauges read
/// at scrape time (`Store.metrics`). Label values come from fixed lists only (the
/// operation table, the statuses the endpoint answers): a client cannot grow the output.
///
/// swift-prometheus (2.4.1, on this machine) was not used: its histogram takes a lock on
/// every observation and its registry one per labelled lookup; this writer is what the
/// format needs for these series, and tests/serve parses its output with
/// prometheus_client's parser.
public final class ServerMetrics: @unchecked Sendable {
    /// Statuses the endpoint answers; anything else is counted as "other".
    static let statuses: [UInt32] = [200, 400, 403, 404, 405, 413, 431, 500, 503]
    /// Latency bucket bounds, in seconds (a waiting PollCommands takes up to 20 s).
    static let bounds: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25]
    static let boundNanoseconds: [UInt64] = bounds.map { UInt64(($0 * 1e9).rounded()) }
    /// What a request that is no operation is counted as (see `HTTPResponse.operation`).
    static let routes = ["-", "/", "/health", "/metrics", "GetLogUrl"]

    let names: [String]
    let index: [String: Int]
    let statusSlots = ServerMetrics.statuses.count + 1
    let bucketSlots = ServerMetrics.bounds.count + 1
    /// [operation][status], [operation][bucket] (not cumulative; the last is past every
    /// bound), [operation] nanoseconds, and PollCommands answers that withheld secrets.
    let requests: UnsafeMutablePointer<UInt64>
    let latency: UnsafeMutablePointer<UInt64>
    let latencySum: UnsafeMutablePointer<UInt64>
    let withheld: UnsafeMutablePointer<UInt64>

    public init() {
        names = Store.operations + ServerMetrics.routes
        var index: [String: Int] = [:]
        for (i, n) in names.enumerated() { index[n] = i }
        self.index = index
        func zeroed(_ n: Int) -> UnsafeMutablePointer<UInt64> {
            let p = UnsafeMutablePointer<UInt64>.allocate(capacity: n)
            p.initialize(repeating: 0, count: n)
            return p
        }
        requests = zeroed(names.count * statusSlots)
        latency = zeroed(names.count * bucketSlots)
        latencySum = zeroed(names.count)
        withheld = zeroed(1)
    }

    deinit {
        requests.deallocate()
        latency.deallocate()
        latencySum.deallocate()
        withheld.deallocate()
    }

    /// One answered request (from any HTTP thread).
    public func record(operation: String, status: UInt32, nanoseconds: UInt64) {
        let op = index[operation] ?? index["-"]!
        var s = 0
        while s < ServerMetrics.statuses.count && ServerMetrics.statuses[s] != status { s += 1 }
        var b = 0
        while b < ServerMetrics.boundNanoseconds.count && nanoseconds > ServerMetrics.boundNanoseconds[b] { b += 1 }
        owdh_counter_add(requests + op * statusSlots + s, 1)
        owdh_counter_add(latency + op * bucketSlots + b, 1)
        owdh_counter_add(latencySum + op, nanoseconds)
    }

    public func recordWithheld() { owdh_counter_add(withheld, 1) }

    /// The exposition text: the request series that have counted anything, then the
    /// store's gauges (none when `store` is nil).
    public func text(store: StoreMetrics?, waitingPolls: Int? = nil) -> String {
        var out = ""
        out.reserveCapacity(8192)
        func family(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        family("owd_http_requests_total", "counter", "Requests answered, by operation (\"-\": none named or unknown) and HTTP status.")
        for (op, name) in names.enumerated() {
            for s in 0..<statusSlots {
                let n = owdh_counter_load(requests + op * statusSlots + s)
                guard n > 0 else { continue }
                let status = s < ServerMetrics.statuses.count ? String(ServerMetrics.statuses[s]) : "other"
                out += "owd_http_requests_total{operation=\"\(name)\",status=\"\(status)\"} \(n)\n"
            }
        }
        family("owd_http_request_duration_seconds", "histogram", "Time from a request's arrival at the handler to its answer, by operation.")
        for (op, name) in names.enumerated() {
            var counts = [UInt64](repeating: 0, count: bucketSlots)
            for b in 0..<bucketSlots { counts[b] = owdh_counter_load(latency + op * bucketSlots + b) }
            let total = counts.reduce(0, +)
            guard total > 0 else { continue }
            var cumulative: UInt64 = 0
            for (b, bound) in ServerMetrics.bounds.enumerated() {
                cumulative += counts[b]
                out += "owd_http_request_duration_seconds_bucket{operation=\"\(name)\",le=\"\(bound)\"} \(cumulative)\n"
            }
            out += "owd_http_request_duration_seconds_bucket{operation=\"\(name)\",le=\"+Inf\"} \(total)\n"
            out += "owd_http_request_duration_seconds_sum{operation=\"\(name)\"} \(Double(owdh_counter_load(latencySum + op)) / 1e9)\n"
            out += "owd_http_request_duration_seconds_count{operation=\"\(name)\"} \(total)\n"
        }
        family("owd_poll_secrets_withheld_total", "counter", "PollCommands answers that left secrets out (plain HTTP from a peer that is not this machine).")
        out += "owd_poll_secrets_withheld_total \(owdh_counter_load(withheld))\n"
        if let waitingPolls {
            family("owd_polls_waiting", "gauge", "PollCommands calls waiting for commands now (their connections suspended: they hold no thread).")
            out += "owd_polls_waiting \(waitingPolls)\n"
        }
        guard let store else { return out }
        family("owd_deployments", "gauge", "Deployments in the store, by status.")
        for (status, n) in store.deployments { out += "owd_deployments{status=\"\(status)\"} \(n)\n" }
        family("owd_commands_pending", "gauge", "Commands pending (of running deployments).")
        out += "owd_commands_pending \(store.commandsPending)\n"
        family("owd_agents_seen", "gauge", "Instances whose agent has polled at least once.")
        out += "owd_agents_seen \(store.agentsSeen)\n"
        family("owd_agents_connection_lost", "gauge", "Online instances whose agent was seen and has not polled lately (shown connection_lost).")
        out += "owd_agents_connection_lost \(store.agentsConnectionLost)\n"
        family("owd_store_size_bytes", "gauge", "The store's size in bytes (a file: its pages; PostgreSQL: its schema's tables, indexes and TOAST).")
        out += "owd_store_size_bytes \(store.sizeBytes)\n"
        if let s = store.lastCommitSeconds {
            family("owd_store_last_commit_duration_seconds", "gauge", "How long this server's last commit took (BEGIN to COMMIT and its sync).")
            out += "owd_store_last_commit_duration_seconds \(s)\n"
        }
        return out
    }
}

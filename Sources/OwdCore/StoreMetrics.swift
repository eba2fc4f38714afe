import CSQLite

/// What `owd serve`'s /metrics shows of the store: gauges read at scrape time, from the
/// cache where it holds them (deployments by status) and from small or indexed reads
/// otherwise, so a scrape costs little on a store of a million deployments.
public struct StoreMetrics: Equatable, Sendable {
    /// Deployments by status ("running", "successful", "failed").
    public var deployments: [(String, Int)]
    /// Commands `pending` (those of running deployments).
    public var commandsPending: Int
    /// Instances whose agent has polled at least once; of those, shown `connection_lost`.
    public var agentsSeen: Int
    public var agentsConnectionLost: Int
    /// The store's size in bytes (pages in use times the page size).
    public var sizeBytes: Int64
    /// The last commit of this process (BEGIN to COMMIT and its sync), in seconds; nil: none yet.
    public var lastCommitSeconds: Double?

    public init(deployments: [(String, Int)], commandsPending: Int, agentsSeen: Int, agentsConnectionLost: Int,
                sizeBytes: Int64, lastCommitSeconds: Double?) {
        self.deployments = deployments
        self.commandsPending = commandsPending
        self.agentsSeen = agentsSeen
        self.agentsConnectionLost = agentsConnectionLost
        self.sizeBytes = sizeBytes
        self.lastCommitSeconds = lastCommitSeconds
    }

    public static func == (a: StoreMetrics, b: StoreMetrics) -> Bool {
        a.deployments.map(\.0) == b.deployments.map(\.0) && a.deployments.map(\.1) == b.deployments.map(\.1)
            && a.commandsPending == b.commandsPending && a.agentsSeen == b.agentsSeen
            && a.agentsConnectionLost == b.agentsConnectionLost && a.sizeBytes == b.sizeBytes
            && a.lastCommitSeconds == b.lastCommitSeconds
    }
}

extension Store {
    public func metrics() throws -> StoreMetrics {
        try engine.sync()
        let (counts, running) = engine.cache.reading { ($0.statusCounts, Array($0.running)) }
        let lost = now() - engine.connectionLostAfter
        return try engine.read { c in
            // Pending commands: only running deployments have any, and each row counts its own.
            var pending = 0
            if !running.isEmpty {
                let s = try c.prepare("SELECT pending FROM deployments WHERE seq=?")
                for seq in running {
                    s.bind(1, seq)
                    defer { s.reset() }
                    if try s.step() { pending += Int(s.int(0)) }
                }
            }
            // Instances are few (they are machines): one pass.
            let a = try c.prepare("""
                SELECT count(agent_seen_at), coalesce(sum(CASE WHEN agent_seen_at IS NOT NULL AND status='online' AND agent_seen_at <= ? THEN 1 ELSE 0 END), 0)
                FROM instances
                """)
            a.bind(1, lost)
            defer { a.reset() }
            _ = try a.step()
            // The store's bytes: the file's pages; on PostgreSQL its schema's tables with
            // their indexes and TOAST.
            let size = c.pg == nil
                ? try c.scalar("PRAGMA page_count") * (try c.scalar("PRAGMA page_size"))
                : try c.scalar("""
                    SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c
                    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind = 'r'
                    """)
            let ns = engine.group.mutex.locked { engine.group.lastCommitNanoseconds }
            return StoreMetrics(
                deployments: [DeploymentStatus.running, .successful, .failed].map { ("\($0.name)", counts[Int($0.rawValue)]) },
                commandsPending: pending, agentsSeen: Int(a.int(0)), agentsConnectionLost: Int(a.int(1)),
                sizeBytes: size, lastCommitSeconds: ns < 0 ? nil : Double(ns) / 1e9)
        }
    }
}

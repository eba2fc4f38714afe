import CJansson
import CSQLite

/// Section 14: the agent protocol. PollCommands hands an instance's agent what its
/// commands need (secrets included: the one place that does), waits for new ones
/// (long-poll), and records the agent as seen; CompleteCommand's `Log` is kept (its last
/// 1 MiB) and read back through GetCommandLog, or, through `owd serve`, a signed LogUrl.
extension Store {
    /// The longest wait of a PollCommands call, in seconds.
    static let maxPollWait: Int64 = 20
    /// How often a waiting poll looks for commits of other processes (in-process commits
    /// wake it at once).
    static let pollCheckNanoseconds: Int64 = 10_000_000

    func pollCommands(_ r: PollCommandsRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        // In process, the caller's thread waits (a server waits without one: PollWaiter).
        let poll = try startPoll(r, access)
        if let commands = poll.commands { return try pollAnswer(commands) }
        while true {
            let generation = engine.commits.generation
            if let commands = try poll.look() { return try pollAnswer(commands) }
            let left = poll.deadline - monotonicNanoseconds()
            if left <= 0 { return try pollAnswer([]) }
            engine.commits.wait(after: generation, nanoseconds: min(left, Store.pollCheckNanoseconds))
        }
    }

    /// PollCommands up to the wait: the request's checks, the agent recorded as seen, and
    /// a first look. The poll, with `commands` set when they are its answer already (found,
    /// or WaitTimeSeconds 0), else to be looked at again (`look`) until its deadline.
    func startPoll(_ r: PollCommandsRequest, _ access: Access) throws -> WaitingPoll {
        let wait = r.waitTimeSeconds ?? 0
        guard (0...Store.maxPollWait).contains(wait) else {
            throw OwdError.validation("WaitTimeSeconds must be between 0 and \(Store.maxPollWait), not \(wait)")
        }
        let instanceID = r.instanceId
        // Seen until the end of this poll: a waiting agent is alive, and one that dies
        // while it waits shows connection_lost at most WaitTimeSeconds late.
        let at = now() + wait
        try engine.write { c, _ in
            let i = try instanceState(c, instanceID, access)
            try access.check(c, i.stack)
            let s = try c.prepare("UPDATE instances SET agent_seen_at=? WHERE id=?")
            s.bind(1, at).bind(2, instanceID)
            try s.run()
        }
        let poll = WaitingPoll(store: self, instanceID: instanceID,
                               deadline: monotonicNanoseconds() + wait * 1_000_000_000)
        let commands = try poll.look() ?? []
        if !commands.isEmpty || wait == 0 { poll.commands = commands }
        return poll
    }

    /// PollCommands for a server that waits without holding a thread: `.answered` with the
    /// answer's text (malloc'd) when it needs no wait, else `.waiting` for a PollWaiter.
    public func startPollCommands(_ request: UnsafePointer<json_t>?) throws -> PollStart {
        let value = try validated(.pollCommands, request)
        let poll = try startPoll(PollCommandsRequest(value), Access(operation: .pollCommands, caller: caller))
        if let commands = poll.commands { return .answered(try poll.text(commands)) }
        return .waiting(poll)
    }

    /// `{"Commands": [...]}`; from a handle that withholds secrets, each command's `App`
    /// filtered as section 10 filters answers, and `SecretsWithheld` saying why.
    func pollAnswer(_ commands: [Value]) throws -> UnsafeMutablePointer<json_t> {
        guard let reason = secretsWithheld else { return try Store.json(.object([("Commands", .list(commands))])) }
        let answer = try Store.json(.object([("Commands", .list(commands)), ("SecretsWithheld", .string(reason))]))
        if let list = json_object_get(answer, "Commands") {
            for i in 0..<json_array_size(list) {
                guard let app = json_object_get(json_array_get(list, i), "App") else { continue }
                guard Secrets.filter(app, .app) else {
                    cjansson_decref(answer)
                    throw OwdError.outOfMemory
                }
            }
        }
        return answer
    }

    /// The instance's pending, not yet acknowledged commands, oldest first, with what
    /// running each needs.
    func pendingCommands(_ c: Connection, _ instanceID: String) throws -> [Value] {
        let s = try c.prepare("""
            SELECT c.id, c.deployment_id, c.type, d.args, d.app_id, d.custom_json, d.app_version, c.stack_id
            FROM commands c JOIN deployments d ON d.seq = c.deployment_seq
            WHERE c.instance_id=? AND c.status='pending' AND c.acknowledged_at IS NULL
            ORDER BY c.deployment_seq, c.seq
            """)
        s.bind(1, instanceID)
        var rows: [(id: String, deployment: String, type: String, args: [(String, Value)], app: String?,
                    customJson: String?, appVersion: Int64?, stack: String)] = []
        do {
            defer { s.reset() }
            while try s.step() {
                var args: [(String, Value)] = []
                var values: [Value] = []
                var key: String? = nil
                let blob = s.blob(3)
                ArgsBlob.walk(blob, key: { k, _ in
                    if let key { args.append((key, .list(values))) }
                    key = String(decoding: k, as: UTF8.self)
                    values = []
                }, value: { values.append(.string(String(decoding: $0, as: UTF8.self))) })
                if let key { args.append((key, .list(values))) }
                rows.append((s.string(0) ?? "", s.string(1) ?? "", s.string(2) ?? "", args, s.string(4),
                             s.string(5), s.optionalInt(6), s.string(7) ?? ""))
            }
        }
        return try rows.map { row in
            var m: [(String, Value)] = [("CommandId", .string(row.id)), ("DeploymentId", .string(row.deployment)),
                                        ("Type", .string(row.type)), ("Args", .object(row.args))]
            if let app = row.app {
                m.append(("AppId", .string(app)))
                if let body = try appAsDeployed(c, app, version: row.appVersion) {
                    let members: [(String, Value)] = [("AppId", .string(app)), ("StackId", .string(row.stack))]
                    m.append(("App", .object(members + (try Store.members(ofJSONText: body)))))
                }
            }
            if let j = row.customJson { m.append(("CustomJson", .string(j))) }
            return .object(m)
        }
    }

    /// The app as a deployment deployed it: the version recorded at its creation, else
    /// (commands that record none, or a version dropped since) the current one; nil when
    /// the app is gone.
    func appAsDeployed(_ c: Connection, _ appID: String, version: Int64?) throws -> String? {
        if let version {
            let s = try c.prepare("SELECT body FROM app_versions WHERE app_id=? AND version=?")
            s.bind(1, appID).bind(2, version)
            defer { s.reset() }
            if try s.step(), let body = s.string(0) { return body }
        }
        let s = try c.prepare("SELECT body FROM apps WHERE id=?")
        s.bind(1, appID)
        defer { s.reset() }
        return try s.step() ? s.string(0) : nil
    }

    /// The last `Limits.keptLog` bytes of a log, cut at a character boundary.
    static func keptLog(_ log: String) -> String {
        let utf8 = log.utf8
        guard utf8.count > Limits.keptLog else { return log }
        var start = utf8.index(utf8.endIndex, offsetBy: -Limits.keptLog)
        // Skip continuation bytes (10xxxxxx): the kept text starts with a whole character.
        while start < utf8.endIndex && (utf8[start] & 0xC0) == 0x80 { start = utf8.index(after: start) }
        return String(decoding: utf8[start...], as: UTF8.self)
    }

    func storeLog(_ c: Connection, commandID: String, _ log: String) throws {
        let s = try c.prepare("INSERT INTO command_logs(command_id, log) VALUES(?,?) ON CONFLICT(command_id) DO UPDATE SET log=excluded.log")
        s.bind(1, commandID).bind(2, Store.keptLog(log))
        try s.run()
    }

    func getCommandLog(_ r: GetCommandLogRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        let id = r.commandId
        let grants = grants()
        let log: String? = try engine.read { c in
            try access.check(grants, stackID: try stackOf(c, .command, id))
            let s = try c.prepare("SELECT log FROM command_logs WHERE command_id=?")
            s.bind(1, id)
            defer { s.reset() }
            return try s.step() ? s.string(0) : nil
        }
        return try Store.json(.object(log.map { [("Log", .string($0))] } ?? []))
    }

    /// A command's stored log for a front end that has checked the request itself (the
    /// signed LogUrl of `owd serve`); nil when the command or its log does not exist.
    public func commandLog(_ commandID: String) throws -> String? {
        try engine.read { c in
            let s = try c.prepare("SELECT log FROM command_logs WHERE command_id=?")
            s.bind(1, commandID)
            defer { s.reset() }
            return try s.step() ? s.string(0) : nil
        }
    }

    /// The key that signs this store's log URLs: `candidate` (32 random bytes the caller
    /// drew) the first time, kept in the store, and the kept one ever after, so that URLs
    /// signed before a restart still work after it, and on every server sharing the store.
    /// Kept in `meta` as four 64-bit integers (`log_url_key.0` to `.3`: meta's values are
    /// integers on SQLite and PostgreSQL alike), written together under the write lock;
    /// no answer, export or log reads them. Whoever can read the store can read its logs
    /// anyway, so the key protects nothing the store itself does not already hold.
    public func logURLKey(candidate: [UInt8]) throws -> [UInt8] {
        guard candidate.count == 32 else { throw OwdError.invalidArgument("a log URL key is 32 bytes, not \(candidate.count)") }
        return try engine.write { c, _ in
            let put = try c.prepare("INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO NOTHING")
            for word in 0..<4 {
                var v: UInt64 = 0
                for byte in candidate[(word * 8)..<(word * 8 + 8)] { v = v << 8 | UInt64(byte) }
                put.bind(1, "log_url_key.\(word)").bind(2, Int64(bitPattern: v))
                try put.run()
            }
            let get = try c.prepare("SELECT key, value FROM meta WHERE key LIKE 'log_url_key.%' ORDER BY key")
            defer { get.reset() }
            var key: [UInt8] = []
            while try get.step() {
                guard get.string(0) == "log_url_key.\(key.count / 8)" else { break }
                let v = UInt64(bitPattern: get.int(1))
                for shift in stride(from: 56, through: 0, by: -8) { key.append(UInt8(truncatingIfNeeded: v >> UInt64(shift))) }
            }
            guard key.count == 32 else { throw OwdError.store("the store's log URL key is not a key") }
            return key
        }
    }

    /// Makes the answers of this store (every handle on it) give a command with a stored
    /// log the URL `url(commandID)` as its LogUrl (set once, before serving).
    public func serveLogs(_ url: @escaping @Sendable (String) -> String) {
        engine.logURL = url
    }
}

extension Engine {
    /// A number that changes when any connection, of this process or another, commits
    /// (the reader's `changeToken`); in-memory stores: this process's commits.
    func storeVersion() throws -> Int64 {
        guard let reader else { return Int64(truncatingIfNeeded: commits.generation) }
        return try readLock.locked { try reader.changeToken() }
    }
}

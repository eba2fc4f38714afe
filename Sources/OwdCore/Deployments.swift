import CJansson
import CSQLite

extension Store {
    static let describeDeploymentsMessage = "Please provide either one or more deployment IDs or one stack ID or one app ID"

    // MARK: DescribeDeployments (section 3)

    /// Walks the deployments a DescribeDeployments request selects, newest first, calling
    /// `visit` for each under the cache's read lock. Rules in the contract's order: at most
    /// one parameter; unknown IDs; permissions. The cache is current (the caller synced).
    /// `strings`: the visit reads each record's strings (JSON), not only the record (handles).
    func selectDeployments(stackID: String?, appID: String?, deploymentIDs: [String]?, _ access: Access,
                           strings: Bool = true, visit: (DeploymentRecord) -> Void) throws {
        if [stackID != nil, appID != nil, deploymentIDs != nil].filter({ $0 }).count > 1 {
            throw OwdError.validation(Store.describeDeploymentsMessage)
        }
        try engine.cache.reading { cache in
            let levels = caller.map { cache.permissions[$0] ?? [:] }
            func check(_ stack: UUIDKey) throws {
                guard let levels else { return }
                if access.allows(levels[stack]) { return }
                let info = cache.stacks[stack]
                throw access.denied(stackID: info?.id ?? "", region: info?.region ?? "")
            }
            func walk(_ index: DeploymentIndex?) {
                guard let index else { return }
                index.items.withUnsafeBufferPointer { Store.visit($0, reversed: true, strings: strings, visit) }
            }
            if let stackID {
                guard let key = UUIDKey(stackID), cache.stacks[key] != nil else { throw Resource.stack.notFound(stackID) }
                try check(key)
                walk(cache.byStack[key])
            } else if let appID {
                guard let key = UUIDKey(appID), let stack = cache.appStacks[key] else { throw Resource.app.notFound(appID) }
                try check(stack)
                walk(cache.byApp[key])
            } else if let deploymentIDs {
                var found = ContiguousArray<DeploymentRecord>()
                found.reserveCapacity(deploymentIDs.count)
                for id in deploymentIDs {
                    guard let key = UUIDKey(id), let r = cache.byID[key] else { throw Resource.deployment.notFound(id) }
                    found.append(r)
                }
                for r in found { try check(r.stackKey) }
                found.sort { DeploymentIndex.before($1, $0.createdAt, $0.seq) }
                // A deployment named twice is answered once: sorted, its copies sit side by side
                // (cheaper than a Set of the IDs, which cost as much as the lookups).
                var unique = 0
                for i in found.indices where unique == 0 || found[unique - 1] !== found[i] {
                    found.swapAt(unique, i)
                    unique += 1
                }
                found.removeLast(found.count - unique)
                found.withUnsafeBufferPointer { Store.visit($0, reversed: false, strings: strings, visit) }
            } else if let levels {
                var i = cache.all.items.count
                while i > 0 {
                    i -= 1
                    let r = cache.all.items[i]
                    if access.allows(levels[r.stackKey]) { visit(r) }
                }
            } else {
                walk(cache.all)
            }
        }
    }

    /// Visits `items` in order (backwards when `reversed`), prefetching the records ahead: in
    /// a large store one answer's records lie far apart (created among other stacks'), and
    /// waiting on each one's cache misses made query 1 on 1,000,000 deployments 1.47x slower
    /// than on 10,000 with the same instructions.
    @inline(__always)
    static func visit(_ items: UnsafeBufferPointer<DeploymentRecord>, reversed: Bool, strings: Bool,
                      _ visit: (DeploymentRecord) -> Void) {
        let n = items.count
        guard n > 0, let base = items.baseAddress else { return }
        let words = UnsafeRawPointer(base)
        let step = reversed ? -1 : 1
        var i = reversed ? n - 1 : 0
        // Objects far enough ahead to arrive in time (a handle costs a retain, JSON a
        // microsecond), read without touching them; their strings 2 ahead.
        let far = (strings ? 4 : 16) * step
        for _ in 0..<n {
            let far = i + far
            if far >= 0 && far < n {
                cjansson_prefetch(words.load(fromByteOffset: far * MemoryLayout<UnsafeRawPointer>.stride, as: UnsafeRawPointer.self))
            }
            if strings {
                let near = i + 2 * step
                if near >= 0 && near < n { items[near].prefetchStrings() }
            }
            visit(items[i])
            i += step
        }
    }

    /// DescribeDeployments through records: a snapshot, newest first.
    public func describeDeployments(stackID: String?, appID: String?, deploymentIDs: [String]?) throws -> ContiguousArray<DeploymentRecord> {
        if let deploymentIDs, deploymentIDs.count > Limits.list {
            throw OwdError.validation("Parameter DeploymentIds has \(deploymentIDs.count) entries; the maximum is \(Limits.list)")
        }
        try engine.sync()
        var out = ContiguousArray<DeploymentRecord>()
        try selectDeployments(stackID: stackID, appID: appID, deploymentIDs: deploymentIDs,
                              Access(operation: .describeDeployments, caller: caller), strings: false) { out.append($0) }
        return out
    }

    /// `{"Deployments": [...]}` for a list of records (new reference).
    public static func deploymentsJSON<C: Collection>(_ records: C) throws -> UnsafeMutablePointer<json_t> where C.Element == DeploymentRecord {
        try deploymentsJSON { append in records.forEach(append) }
    }

    /// `{"Deployments": [...]}` with the records `fill` hands to its argument, in order.
    static func deploymentsJSON(_ fill: ((DeploymentRecord) -> Void) throws -> Void) throws -> UnsafeMutablePointer<json_t> {
        guard let array = json_array(), let object = json_object() else { throw OwdError.outOfMemory }
        var failed: Int32 = json_object_set_new_nocheck(object, cString("Deployments"), array)
        do {
            try fill { r in failed |= json_array_append_new(array, r.json()) }
        } catch {
            cjansson_decref(object)
            throw error
        }
        if failed != 0 { cjansson_decref(object); throw OwdError.outOfMemory }
        return object
    }

    func describeDeployments(_ r: DescribeDeploymentsRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        try Store.deploymentsJSON { append in
            try selectDeployments(stackID: r.stackId, appID: r.appId, deploymentIDs: r.deploymentIds, access, visit: append)
        }
    }

    // MARK: CreateDeployment (section 4)

    struct InstanceRow {
        let id: String
        let stackID: String
        let online: Bool
        let windows: Bool
        let layerIDs: [String]

        static let columns = "id, stack_id, status, layer_ids, os FROM instances"

        /// A row of `SELECT \(columns)`. An instance whose Os starts with "Microsoft
        /// Windows" is a Windows instance (section 9); any other, or none, is Linux.
        init(_ s: Statement) {
            id = s.string(0) ?? ""
            stackID = s.string(1) ?? ""
            online = s.string(2) == "online"
            layerIDs = (s.string(3) ?? "").split(separator: ",").map(String.init)
            windows = (s.string(4) ?? "").hasPrefix("Microsoft Windows")
        }
    }

    func instanceRow(_ c: Connection, _ id: String) throws -> InstanceRow {
        let s = try c.prepare("SELECT \(InstanceRow.columns) WHERE id=?")
        s.bind(1, id)
        defer { s.reset() }
        guard try s.step() else { throw Resource.instance.notFound(id) }
        return InstanceRow(s)
    }

    static func flag(_ args: [(String, [String])], _ key: String) -> [String]? {
        args.first { $0.0 == key }?.1
    }

    func createDeployment(_ r: CreateDeploymentRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        let stackID = r.stackId
        let commandName = r.command.name
        guard let command = CommandName(name: commandName) else {   // the shape's enum admits no other name
            throw OwdError.internal("a validated command name \(commandName) is unknown")
        }
        let args = r.command.args ?? []
        let appID = r.appId
        let instanceIDs = r.instanceIds ?? []
        let layerIDs = r.layerIds ?? []
        let comment = r.comment
        let customJson = r.customJson
        let createdAt = now()
        let id = Store.newID()

        try engine.write { c, change in
            // (3) IDs that do not exist, in request order, the stack first.
            let stack = try stackRow(c, stackID)
            let appStack = try appID.map { try stackOf(c, .app, $0) }
            let instances = try instanceIDs.map { try instanceRow(c, $0) }
            let layerStacks = try layerIDs.map { try stackOf(c, .layer, $0) }
            // (4) permissions.
            try access.check(c, stack)
            // (5) the operation's other rules.
            if command.isAppCommand && appID == nil {
                throw OwdError.validation("The \(commandName) command needs an AppId")
            }
            if !command.isAppCommand, appID != nil {
                throw OwdError.validation("The \(commandName) command is a stack command and takes no AppId")
            }
            if let appID, appStack != stackID {
                throw OwdError.validation("App \(appID) does not belong to stack \(stackID)")
            }
            try Store.checkArgs(command, commandName, args)
            if let customJson { try Store.checkCustomJson(customJson) }
            for i in instances where i.stackID != stackID {
                throw OwdError.validation("Instance \(i.id) does not belong to stack \(stackID)")
            }
            for i in instances where !i.online {
                throw OwdError.validation("Instance \(i.id) is not online")
            }
            for (l, s) in zip(layerIDs, layerStacks) where s != stackID {
                throw OwdError.validation("Layer \(l) does not belong to stack \(stackID)")
            }
            let targets = try resolveTargets(c, stackID: stackID, instances: instances, layerIDs: layerIDs)
            if targets.isEmpty {
                throw OwdError.validation("No online instances to run \(commandName) on")
            }
            // Section 9: a deploy records the app version it deploys; a rollback moves the
            // app back one version, or, with only one version left, fails at creation.
            var appVersion: Int64?
            var forced: (status: String, exitCode: Int64)?
            if let appID, command == .deploy || command == .rollback {
                appVersion = try AppVersions.current(c, appID)
                if command == .rollback {
                    if let previous = try AppVersions.rollBack(c, appID) {
                        appVersion = previous
                    } else {
                        forced = ("failed", 1)
                    }
                }
            }
            try insertDeployment(c, change: change, id: id, stackID: stackID, appID: appID, createdAt: createdAt,
                                 command: command, args: args, targets: targets, comment: comment,
                                 customJson: customJson, appVersion: appVersion, forcedResult: forced)
        }
        return try Store.json(.object([("DeploymentId", .string(id))]))
    }

    static func checkArgs(_ command: CommandName, _ name: String, _ args: [(String, [String])]) throws {
        func boolean(_ key: String) throws -> [String]? {
            guard let v = flag(args, key) else { return nil }
            if v != ["true"] && v != ["false"] {
                throw OwdError.validation("Args.\(key) of \(name) must be [\"true\"] or [\"false\"]")
            }
            return v
        }
        switch command {
        case .executeRecipes:
            guard let recipes = flag(args, "recipes"), !recipes.isEmpty else {
                throw OwdError.validation("execute_recipes needs Args.recipes with at least one recipe")
            }
        case .deploy:
            _ = try boolean("migrate")
        case .updateDependencies:
            let reboot = try boolean("allow_reboot")
            if flag(args, "upgrade_os_to") != nil && reboot != ["true"] {
                throw OwdError.validation("update_dependencies with Args.upgrade_os_to needs Args.allow_reboot [\"true\"]")
            }
        default:
            break
        }
    }

    static func checkCustomJson(_ text: String) throws {
        var error = json_error_t()
        let parsed = text.withCString { json_loadb($0, text.utf8.count, Int(JSON_DECODE_ANY | JSON_ALLOW_NUL), &error) }
        defer { if let parsed { cjansson_decref(parsed) } }
        guard let parsed, cjansson_typeof(parsed) == Int32(JSON_OBJECT.rawValue) else {
            throw OwdError.validation("CustomJson must be a JSON object")
        }
    }

    /// The named instances in order, then each layer's online instances in creation order,
    /// each once; neither given: every online instance of the stack.
    func resolveTargets(_ c: Connection, stackID: String, instances: [InstanceRow], layerIDs: [String]) throws -> [InstanceRow] {
        var targets: [InstanceRow] = []
        var seen = Set<String>()
        for i in instances where seen.insert(i.id).inserted { targets.append(i) }
        if instances.isEmpty || !layerIDs.isEmpty {
            let s = try c.prepare("SELECT \(InstanceRow.columns) WHERE stack_id=? AND status='online' ORDER BY seq")
            s.bind(1, stackID)
            defer { s.reset() }
            var online: [InstanceRow] = []
            while try s.step() { online.append(InstanceRow(s)) }
            if instances.isEmpty && layerIDs.isEmpty {
                return online
            }
            for layer in layerIDs {
                for i in online where i.layerIDs.contains(layer) && seen.insert(i.id).inserted { targets.append(i) }
            }
        }
        return targets
    }

    /// Inserts a deployment and one command per target. Commands that have nothing to do
    /// (dependency commands on Windows) are created finished; a deployment all of whose
    /// commands are finished is finished at creation.
    func insertDeployment(_ c: Connection, change: Int64, id: String, stackID: String, appID: String?,
                          createdAt: Int64, command: CommandName, args: [(String, [String])],
                          targets: [InstanceRow], comment: String?, customJson: String?,
                          appVersion: Int64? = nil, forcedResult: (status: String, exitCode: Int64)? = nil) throws {
        let noop = { (i: InstanceRow) in
            i.windows && (command == .installDependencies || command == .updateDependencies)
        }
        let finished = targets.map { forcedResult != nil || noop($0) }
        let pending = finished.filter { !$0 }.count
        let failed = forcedResult?.status == "failed"
        let d = try c.prepare("""
            INSERT INTO deployments(id, stack_id, app_id, created_at, completed_at, status, command, args,
                instance_ids, iam_user_arn, comment, custom_json, pending, change_seq, app_version)
            VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING seq
            """)
        d.bind(1, id).bind(2, stackID).bind(3, appID).bind(4, createdAt)
        d.bind(5, pending == 0 ? createdAt : nil)
        d.bind(6, Int64(pending > 0 ? DeploymentStatus.running.rawValue
                        : failed ? DeploymentStatus.failed.rawValue : DeploymentStatus.successful.rawValue))
        d.bind(7, Int64(command.rawValue))
        let blob = ArgsBlob.encode(args)
        blob.withUnsafeBytes { _ = d.bind(8, bytes: $0) }
        d.bind(9, targets.map(\.id).joined(separator: ","))
        d.bind(10, caller).bind(11, comment).bind(12, customJson).bind(13, Int64(pending)).bind(14, change)
        d.bind(15, appVersion)
        guard try d.step() else { d.reset(); throw OwdError.internal("INSERT ... RETURNING gave no row") }
        let deploymentSeq = d.int(0)
        d.reset()
        let cmd = try c.prepare("""
            INSERT INTO commands(id, deployment_seq, deployment_id, stack_id, instance_id, created_at,
                completed_at, status, exit_code, type) VALUES(?,?,?,?,?,?,?,?,?,?)
            """)
        for (target, done) in zip(targets, finished) {
            cmd.bind(1, Store.newID()).bind(2, deploymentSeq).bind(3, id).bind(4, stackID).bind(5, target.id)
            cmd.bind(6, createdAt).bind(7, done ? createdAt : nil)
            cmd.bind(8, done ? (forcedResult?.status ?? "successful") : "pending")
            cmd.bind(9, done ? (forcedResult?.exitCode ?? 0) : nil)
            cmd.bind(10, command.name.description)
            try cmd.run()
        }
    }

    // MARK: Commands (section 5)

    static let describeCommandsMessage = "Please provide either one or more command IDs or one deployment ID or one instance ID"
    static let commandColumns = """
        SELECT id, instance_id, deployment_id, created_at, acknowledged_at, completed_at, status, exit_code,
               log_url, type, stack_id, EXISTS(SELECT 1 FROM command_logs l WHERE l.command_id = commands.id)
        FROM commands
        """
    static let commandOrder = " ORDER BY created_at DESC, deployment_seq DESC, seq ASC"

    func commandJSON(_ s: Statement) throws -> UnsafeMutablePointer<json_t> {
        var m: [(String, Value)] = [
            ("CommandId", .string(s.string(0) ?? "")),
            ("InstanceId", .string(s.string(1) ?? "")),
            ("DeploymentId", .string(s.string(2) ?? "")),
            ("CreatedAt", .string(Timestamp.string(s.int(3)))),
        ]
        if let t = s.optionalInt(4) { m.append(("AcknowledgedAt", .string(Timestamp.string(t)))) }
        if let t = s.optionalInt(5) { m.append(("CompletedAt", .string(Timestamp.string(t)))) }
        m.append(("Status", .string(s.string(6) ?? "")))
        if let e = s.optionalInt(7) { m.append(("ExitCode", .integer(e))) }
        if let u = s.string(8) {
            m.append(("LogUrl", .string(u)))
        } else if s.int(11) != 0, let url = engine.logURL {
            m.append(("LogUrl", .string(url(s.string(0) ?? ""))))
        }
        m.append(("Type", .string(s.string(9) ?? "")))
        return try Store.json(.object(m))
    }

    func describeCommands(_ r: DescribeCommandsRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        try Store.atMostOne([r.deploymentId != nil, r.instanceId != nil, r.commandIds != nil],
                            message: Store.describeCommandsMessage)
        let grants = grants()
        let items: [UnsafeMutablePointer<json_t>] = try engine.read { c in
            var out: [UnsafeMutablePointer<json_t>] = []
            func collect(_ s: Statement, filter: Bool) throws {
                defer { s.reset() }
                while try s.step() {
                    if filter && !access.allows(grants, stackID: s.string(10) ?? "") { continue }
                    out.append(try commandJSON(s))
                }
            }
            do {
                if let d = r.deploymentId {
                    let stack = try stackOf(c, .deployment, d)
                    try access.check(grants, stackID: stack)
                    let s = try c.prepare(Store.commandColumns + " WHERE deployment_id=? ORDER BY seq")
                    s.bind(1, d)
                    try collect(s, filter: false)
                } else if let i = r.instanceId {
                    let stack = try stackOf(c, .instance, i)
                    try access.check(grants, stackID: stack)
                    let s = try c.prepare(Store.commandColumns + " WHERE instance_id=?" + Store.commandOrder)
                    s.bind(1, i)
                    try collect(s, filter: false)
                } else if let ids = r.commandIds {
                    var unique: [String] = []
                    var seen = Set<String>()
                    for id in ids {
                        _ = try stackOf(c, .command, id)
                        if seen.insert(id).inserted { unique.append(id) }
                    }
                    for id in unique { try access.check(grants, stackID: try stackOf(c, .command, id)) }
                    if !unique.isEmpty {
                        let s = try c.prepare(Store.commandColumns + " WHERE id IN (SELECT value FROM json_each(?))" + Store.commandOrder)
                        s.bind(1, try Value.list(unique.map { .string($0) }).jsonText())
                        try collect(s, filter: false)
                    }
                } else {
                    try collect(try c.prepare(Store.commandColumns + Store.commandOrder), filter: true)
                }
            } catch {
                out.forEach { cjansson_decref($0) }
                throw error
            }
            return out
        }
        return try Store.list("Commands", items)
    }

    struct CommandRow {
        let stack: StackRow
        let status: String
        let deploymentSeq: Int64
    }

    func commandRow(_ c: Connection, _ id: String, _ access: Access) throws -> CommandRow {
        let s = try c.prepare("SELECT stack_id, status, deployment_seq FROM commands WHERE id=?")
        s.bind(1, id)
        let (stackID, status, seq): (String, String, Int64)
        do {
            defer { s.reset() }
            guard try s.step() else { throw Resource.command.notFound(id) }
            (stackID, status, seq) = (s.string(0) ?? "", s.string(1) ?? "", s.int(2))
        }
        let stack = try stackRow(c, stackID)
        try access.check(c, stack)
        return CommandRow(stack: stack, status: status, deploymentSeq: seq)
    }

    func acknowledgeCommand(_ r: AcknowledgeCommandRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        let id = r.commandId
        let at = now()
        try engine.write { c, _ in
            _ = try commandRow(c, id, access)
            let s = try c.prepare("UPDATE commands SET acknowledged_at=? WHERE id=? AND acknowledged_at IS NULL")
            s.bind(1, at).bind(2, id)
            try s.run()
        }
        return try Store.empty()
    }

    func completeCommand(_ r: CompleteCommandRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        let id = r.commandId
        let status = r.status
        let at = now()
        try engine.write { c, change in
            let row = try commandRow(c, id, access)
            if row.status != "pending" {
                throw OwdError.validation("Command \(id) is already \(row.status): a command's result is never overwritten")
            }
            let s = try c.prepare("UPDATE commands SET status=?, completed_at=?, exit_code=?, log_url=? WHERE id=?")
            s.bind(1, status).bind(2, at).bind(3, r.exitCode).bind(4, r.logUrl).bind(5, id)
            try s.run()
            if let log = r.log { try storeLog(c, commandID: id, log) }
            try rollUp(c, change: change, deploymentSeq: row.deploymentSeq, completed: 1)
        }
        return try Store.empty()
    }

    /// `completed` pending commands of a deployment have just finished: when they were its
    /// last, the deployment finishes in this same transaction (section 5): `failed` if any
    /// of its commands failed, else `successful`; CompletedAt the latest command's.
    func rollUp(_ c: Connection, change: Int64, deploymentSeq: Int64, completed: Int64) throws {
        let d = try c.prepare("""
            UPDATE deployments SET pending = pending - ?1,
              status = CASE WHEN pending > ?1 THEN status
                WHEN EXISTS (SELECT 1 FROM commands WHERE deployment_seq = deployments.seq AND status = 'failed')
                THEN \(DeploymentStatus.failed.rawValue) ELSE \(DeploymentStatus.successful.rawValue) END,
              completed_at = CASE WHEN pending > ?1 THEN NULL
                ELSE (SELECT max(completed_at) FROM commands WHERE deployment_seq = deployments.seq) END,
              change_seq = CASE WHEN pending > ?1 THEN change_seq ELSE ?2 END
            WHERE seq = ?3
            """)
        d.bind(1, completed).bind(2, change).bind(3, deploymentSeq)
        try d.run()
    }
}

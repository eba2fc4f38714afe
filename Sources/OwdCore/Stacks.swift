import CJansson

/// Stacks (sections 6, 11, 12): creation with AWS's defaults, update, deletion, cloning,
/// the summary and the provisioning parameters.
extension Store {
    /// Section 11: what the model documents as a stack's defaults. Computed, not a stored
    /// constant: enum payloads keep tag bits in their pointers, which hides a process-wide
    /// constant from leak checkers (valgrind would report it lost).
    static var stackDefaults: [(String, Value)] { [
        ("ConfigurationManager", .object([("Name", .string("Chef")), ("Version", .string("12"))])),
        ("UseCustomCookbooks", .boolean(false)),
        ("UseOpsworksSecurityGroups", .boolean(true)),
        ("HostnameTheme", .string("Layer_Dependent")),
        ("DefaultOs", .string("Amazon Linux 2")),
        ("DefaultRootDeviceType", .string("instance-store")),
        ("AgentVersion", .string("LATEST")),
    ] }

    /// The given members, then each default whose member was not given (given values win).
    static func withDefaults(_ members: [(String, Value)], _ defaults: [(String, Value)]) -> [(String, Value)] {
        members + defaults.filter { d in !members.contains { $0.0 == d.0 } }
    }

    /// A stack's Arn, as AWS spelled it; the account is the creator's.
    static func stackArn(region: String, account: String, id: String) -> String {
        "arn:aws:opsworks:\(region):\(account):stack/\(id)/"
    }

    /// Inserts a stack row, and the creator's `manage` (a caller that creates a stack manages it).
    func insertStack(_ c: Connection, change: Int64, id: String, region: String, createdAt: Int64, body: String) throws {
        let s = try c.prepare("INSERT INTO stacks(id, region, created_at, body, change_seq) VALUES(?,?,?,?,?)")
        s.bind(1, id).bind(2, region).bind(3, createdAt).bind(4, body).bind(5, change)
        try s.run()
        if let caller {
            let p = try c.prepare("""
                INSERT INTO permissions(stack_id, iam_user_arn, level, allow_ssh, allow_sudo, change_seq)
                VALUES(?,?,'manage',1,1,?)
                """)
            p.bind(1, id).bind(2, caller).bind(3, change)
            try p.run()
        }
    }

    func createStack(_ r: CreateStackRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        let id = Store.newID()
        let createdAt = now()
        let arn = Store.stackArn(region: r.region, account: access.account, id: id)
        let body = try Store.kept(.object(Store.withDefaults(r.value.members, Store.stackDefaults)), .stack,
                                  adding: [("Arn", .string(arn))])
        try engine.write { c, change in
            try insertStack(c, change: change, id: id, region: r.region, createdAt: createdAt, body: body)
        }
        return try Store.json(.object([("StackId", .string(id))]))
    }

    /// A stored body's members (what owd itself stored).
    func storedMembers(_ c: Connection, _ table: String, _ id: String) throws -> [(String, Value)] {
        let s = try c.prepare("SELECT body FROM \(table) WHERE id=?")
        s.bind(1, id)
        defer { s.reset() }
        guard try s.step() else { return [] }
        return try Store.members(ofJSONText: s.string(0) ?? "{}")
    }

    /// `members` with each of `update` replacing the member of its name, or added.
    static func merged(_ members: [(String, Value)], _ update: [(String, Value)]) -> [(String, Value)] {
        var members = members
        for (k, value) in update {
            if let i = members.firstIndex(where: { $0.0 == k }) { members[i].1 = value } else { members.append((k, value)) }
        }
        return members
    }

    /// The first column of every row of a query with text parameters.
    static func column(_ c: Connection, _ sql: String, _ parameters: [String]) throws -> [String] {
        let s = try c.prepare(sql)
        for (i, p) in parameters.enumerated() { s.bind(Int32(i + 1), p) }
        defer { s.reset() }
        var out: [String] = []
        while try s.step() { out.append(s.string(0) ?? "") }
        return out
    }

    static func count(_ c: Connection, _ sql: String, _ parameters: [String]) throws -> Int64 {
        let s = try c.prepare(sql)
        for (i, p) in parameters.enumerated() { s.bind(Int32(i + 1), p) }
        defer { s.reset() }
        _ = try s.step()
        return s.int(0)
    }

    func updateStack(_ r: UpdateStackRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        let update = r.value.members.filter { $0.0 != "StackId" }
        try engine.write { c, change in
            let stack = try stackRow(c, r.stackId)
            try access.check(c, stack)
            let members = Store.merged(try storedMembers(c, "stacks", r.stackId), update)
            let u = try c.prepare("UPDATE stacks SET body=?, change_seq=? WHERE id=?")
            u.bind(1, try Store.kept(.object(members), .stack)).bind(2, change).bind(3, r.stackId)
            try u.run()
        }
        return try Store.empty()
    }

    /// "1 instance, 2 layers and 1 app".
    static func inventory(_ counts: [(Int64, String)]) -> String {
        let parts = counts.filter { $0.0 > 0 }.map { "\($0.0) \($0.1)\($0.0 == 1 ? "" : "s")" }
        guard parts.count > 1 else { return parts.first ?? "" }
        return parts.dropLast().joined(separator: ", ") + " and " + parts.last!
    }

    /// Section 12: only an empty stack is deleted, with its deployments, commands,
    /// permissions and tags, in one transaction (tombstones carry it to every cache).
    func deleteStack(_ r: DeleteStackRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        let id = r.stackId
        try engine.write { c, change in
            let stack = try stackRow(c, id)
            try access.check(c, stack)
            let left = [(try Store.count(c, "SELECT count(*) FROM instances WHERE stack_id=?", [id]), "instance"),
                        (try Store.count(c, "SELECT count(*) FROM layers WHERE stack_id=?", [id]), "layer"),
                        (try Store.count(c, "SELECT count(*) FROM apps WHERE stack_id=?", [id]), "app")]
            if left.contains(where: { $0.0 > 0 }) {
                throw OwdError.validation("Cannot delete stack \(id): it still has \(Store.inventory(left)); delete them first")
            }
            for d in try Store.column(c, "SELECT id FROM deployments WHERE stack_id=?", [id]) {
                try engine.remove(c, change: change, .deployment, id: d)
            }
            for arn in try Store.column(c, "SELECT iam_user_arn FROM permissions WHERE stack_id=?", [id]) {
                try engine.remove(c, change: change, .permission, id: id, iamUserArn: arn)
            }
            try c.prepare("DELETE FROM tags WHERE stack_id=?").bind(1, id).run()
            try engine.remove(c, change: change, .stack, id: id)
        }
        return try Store.empty()
    }

    /// Section 12: a new stack of the source's members (given members win) and its layers
    /// (new IDs, same configuration), with CloneAppIds those apps and with ClonePermissions
    /// its permissions; never its instances or deployments.
    func cloneStack(_ r: CloneStackRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        let id = Store.newID()
        let createdAt = now()
        let given = r.value.members.filter { !["SourceStackId", "ClonePermissions", "CloneAppIds"].contains($0.0) }
        var appIDs: [String] = []
        for a in r.cloneAppIds ?? [] where !appIDs.contains(a) { appIDs.append(a) }
        try engine.write { c, change in
            let source = try stackRow(c, r.sourceStackId)
            let appStacks = try appIDs.map { try stackOf(c, .app, $0) }
            try access.check(c, source)
            for (a, s) in zip(appIDs, appStacks) where s != source.id {
                throw OwdError.validation("App \(a) does not belong to stack \(source.id)")
            }
            let region = r.region ?? source.region
            let arn = Store.stackArn(region: region, account: access.account, id: id)
            let sourceMembers = try storedMembers(c, "stacks", source.id).filter { $0.0 != "Arn" }
            let members = Store.withDefaults(Store.merged(sourceMembers, given), Store.stackDefaults)
            let body = try Store.kept(.object(members), .stack, adding: [("Arn", .string(arn))])
            try insertStack(c, change: change, id: id, region: region, createdAt: createdAt, body: body)
            let account = access.account
            for layer in try Store.column(c, "SELECT id FROM layers WHERE stack_id=? ORDER BY seq", [source.id]) {
                let newID = Store.newID()
                let members = try storedMembers(c, "layers", layer).filter { $0.0 != "Arn" }
                let body = try Store.kept(.object(members), .layer,
                                          adding: [("Arn", .string(Store.layerArn(region: region, account: account, id: newID)))])
                try insertResource(c, .layer, id: newID, stackID: id, createdAt: createdAt, body: body, change: change)
            }
            for app in appIDs {
                let newID = Store.newID()
                let body = try Store.kept(.object(try storedMembers(c, "apps", app)), .app)
                try insertResource(c, .app, id: newID, stackID: id, createdAt: createdAt, body: body, change: change)
                try c.prepare("INSERT INTO app_versions(app_id, version, body) VALUES(?, 1, ?)").bind(1, newID).bind(2, body).run()
            }
            if r.clonePermissions == true {
                // The caller's own stays manage (it created the clone).
                let p = try c.prepare("""
                    INSERT INTO permissions(stack_id, iam_user_arn, level, allow_ssh, allow_sudo, change_seq)
                    SELECT ?, iam_user_arn, level, allow_ssh, allow_sudo, ? FROM permissions
                    WHERE stack_id=? AND iam_user_arn IS DISTINCT FROM ?
                    """)
                p.bind(1, id).bind(2, change).bind(3, source.id).bind(4, caller)
                try p.run()
            }
        }
        return try Store.json(.object([("StackId", .string(id))]))
    }

    /// The InstancesCount member of a status (`connection_lost` -> `ConnectionLost`).
    static func instancesCountMember(_ status: String) -> String {
        status.split(separator: "_").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }

    func describeStackSummary(_ r: DescribeStackSummaryRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        let grants = grants()
        let summary: Value = try engine.read { c in
            _ = try stackRow(c, r.stackId)
            try access.check(grants, stackID: r.stackId)
            let members = try storedMembers(c, "stacks", r.stackId)
            func member(_ name: String) -> [(String, Value)] {
                members.first { $0.0 == name }.map { [$0] } ?? []
            }
            let countMembers = Set(OperationShapes.instancesCountMembers)
            var counts: [(String, Value)] = []
            let s = try c.prepare("SELECT status, count(*) FROM instances WHERE stack_id=? GROUP BY status ORDER BY status")
            s.bind(1, r.stackId)
            do {
                defer { s.reset() }
                while try s.step() {
                    let name = Store.instancesCountMember(s.string(0) ?? "")
                    if countMembers.contains(name) { counts.append((name, .integer(s.int(1)))) }
                }
            }
            return .object([("StackId", .string(r.stackId))] + member("Name") + member("Arn") + [
                ("LayersCount", .integer(try Store.count(c, "SELECT count(*) FROM layers WHERE stack_id=?", [r.stackId]))),
                ("AppsCount", .integer(try Store.count(c, "SELECT count(*) FROM apps WHERE stack_id=?", [r.stackId]))),
                ("InstancesCount", .object(counts)),
            ])
        }
        return try Store.json(.object([("StackSummary", summary)]))
    }

    /// What an agent needs to join the stack. owd's agent is `owd agent` (section 14), so
    /// there is no installer URL: AgentInstallerUrl stays absent.
    func describeStackProvisioningParameters(_ r: DescribeStackProvisioningParametersRequest,
                                             _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        let grants = grants()
        let parameters: [(String, Value)] = try engine.read { c in
            let stack = try stackRow(c, r.stackId)
            try access.check(grants, stackID: r.stackId)
            let members = try storedMembers(c, "stacks", r.stackId)
            var out: [(String, Value)] = [("instance_service_region", .string(stack.region)),
                                          ("stack_id", .string(r.stackId))]
            if case .string(let v)? = members.first(where: { $0.0 == "AgentVersion" })?.1 {
                out.insert(("agent_version", .string(v)), at: 0)
            }
            return out
        }
        return try Store.json(.object([("Parameters", .object(parameters))]))
    }
}

import CJansson
import CSQLite

/// Instances (sections 6, 11, 12): creation with AWS's defaults, registration of machines
/// outside EC2, updates, layers, starting and stopping (one instance or a whole stack),
/// and removal. Whenever an instance stops or leaves its stack, its pending commands fail
/// in the same transaction (`failPendingCommands`).
extension Store {
    static let sameStackMessage = "Please only provide layer IDs from the same stack"
    /// The theme whose hostnames follow the first layer's shortname (the stack's default).
    static let layerDependentTheme = "Layer_Dependent"

    /// The defaults a new instance takes from its stack (section 11), read from the stack's
    /// stored members; what the stack lacks falls back to the contract's stack defaults.
    struct StackDefaults {
        var os = "Amazon Linux 2"
        var rootDeviceType = "instance-store"
        var hostnameTheme = Store.layerDependentTheme
        var sshKeyName: String?
        var availabilityZone: String?
        var subnetId: String?
        var instanceProfileArn: String?
    }

    func stackDefaults(_ c: Connection, _ stackID: String) throws -> StackDefaults {
        let s = try c.prepare("""
            SELECT json_extract(body, '$.DefaultOs'), json_extract(body, '$.DefaultRootDeviceType'),
                   json_extract(body, '$.HostnameTheme'), json_extract(body, '$.DefaultSshKeyName'),
                   json_extract(body, '$.DefaultAvailabilityZone'), json_extract(body, '$.DefaultSubnetId'),
                   json_extract(body, '$.DefaultInstanceProfileArn')
            FROM stacks WHERE id=?
            """)
        s.bind(1, stackID)
        defer { s.reset() }
        var d = StackDefaults()
        guard try s.step() else { throw Resource.stack.notFound(stackID) }
        if let v = s.string(0) { d.os = v }
        if let v = s.string(1) { d.rootDeviceType = v }
        if let v = s.string(2) { d.hostnameTheme = v }
        d.sshKeyName = s.string(3)
        d.availabilityZone = s.string(4)
        d.subnetId = s.string(5)
        d.instanceProfileArn = s.string(6)
        return d
    }

    // MARK: Hostnames (section 11)

    /// The word a theme's hostnames start with. `Layer_Dependent`: the first layer's
    /// Shortname (`instance` for an instance without layers, e.g. a registered one); any
    /// other theme: its name in lowercase with `-` for `_` (`Baked_Goods` -> `baked-goods`).
    /// A number follows: the smallest >= 1 that no instance of the stack has as Hostname.
    static func hostnameBase(theme: String, layerShortname: String?) -> String {
        if theme == layerDependentTheme { return layerShortname ?? "instance" }
        let word = String(theme.lowercased().map { $0 == "_" ? "-" : $0 })
        return word.isEmpty ? "instance" : word
    }

    func nextHostname(_ c: Connection, stackID: String, theme: String, firstLayer: String?) throws -> String {
        var shortname: String?
        if let firstLayer {
            let l = try c.prepare("SELECT json_extract(body, '$.Shortname') FROM layers WHERE id=?")
            l.bind(1, firstLayer)
            defer { l.reset() }
            if try l.step() { shortname = l.string(0) }
        }
        let base = Store.hostnameBase(theme: theme, layerShortname: shortname)
        var taken = Set<String>()
        let s = try c.prepare("SELECT json_extract(body, '$.Hostname') FROM instances WHERE stack_id=?")
        s.bind(1, stackID)
        defer { s.reset() }
        while try s.step() { if let h = s.string(0) { taken.insert(h) } }
        var n = 1
        while taken.contains(base + String(n)) { n += 1 }
        return base + String(n)
    }

    func getHostnameSuggestion(_ r: GetHostnameSuggestionRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        let layerID = r.layerId
        let hostname: String = try engine.read { c in
            let stackID = try stackOf(c, .layer, layerID)
            let stack = try stackRow(c, stackID)
            try access.check(c, stack)
            let defaults = try stackDefaults(c, stackID)
            return try nextHostname(c, stackID: stackID, theme: defaults.hostnameTheme, firstLayer: layerID)
        }
        return try Store.json(.object([("LayerId", .string(layerID)), ("Hostname", .string(hostname))]))
    }

    // MARK: Rows

    /// An instance as the rules of this file need it.
    struct InstanceState {
        let id: String
        let stack: StackRow
        let status: String
        let registered: Bool
        let members: [(String, Value)]
    }

    /// The instance (or not found) and its stack; the caller checks the permission next.
    func instanceState(_ c: Connection, _ id: String, _ access: Access) throws -> InstanceState {
        let s = try c.prepare("SELECT stack_id, status, body FROM instances WHERE id=?")
        s.bind(1, id)
        let (stackID, status, body): (String, String, String)
        do {
            defer { s.reset() }
            guard try s.step() else { throw Resource.instance.notFound(id) }
            (stackID, status, body) = (s.string(0) ?? "", s.string(1) ?? "", s.string(2) ?? "{}")
        }
        let members = try Store.members(ofJSONText: body)
        let stack = try stackRow(c, stackID)
        return InstanceState(id: id, stack: stack, status: status,
                             registered: members.contains { $0.0 == "InfrastructureClass" && $0.1 == .string("on-premises") },
                             members: members)
    }

    /// The stack of each layer of a create or update, in order (or not found).
    func layerStacks(_ c: Connection, _ layerIDs: [String]) throws -> [String] {
        try layerIDs.map { try stackOf(c, .layer, $0) }
    }

    static func checkSameStack(_ layerStacks: [String], _ stackID: String) throws {
        if layerStacks.contains(where: { $0 != stackID }) { throw OwdError.validation(sameStackMessage) }
    }

    static func unique(_ ids: [String]) -> [String] {
        var out: [String] = []
        for id in ids where !out.contains(id) { out.append(id) }
        return out
    }

    /// Rewrites an instance's stored members (and the columns derived from them).
    func saveInstance(_ c: Connection, _ id: String, _ members: [(String, Value)]) throws {
        let layers = members.first { $0.0 == "LayerIds" }.map { (try? Decode.strings($0.1)) ?? [] } ?? []
        var os: String?
        if case .string(let o)? = members.first(where: { $0.0 == "Os" })?.1 { os = o }
        let s = try c.prepare("UPDATE instances SET body=?, layer_ids=?, os=? WHERE id=?")
        s.bind(1, try Value.object(members).jsonText()).bind(2, Store.unique(layers).joined(separator: ","))
        s.bind(3, os ?? "").bind(4, id)
        try s.run()
    }

    static func set(_ members: inout [(String, Value)], _ key: String, _ value: Value?) {
        if let i = members.firstIndex(where: { $0.0 == key }) {
            if let value { members[i].1 = value } else { members.remove(at: i) }
        } else if let value {
            members.append((key, value))
        }
    }

    // MARK: Create and register

    /// The members a new instance gets: what was given, then the defaults of section 11 for
    /// what was not (given values always win).
    static func withDefaults(_ given: [(String, Value)], _ d: StackDefaults, registered: Bool,
                             hostname: String, arn: String) -> [(String, Value)] {
        var members = given
        func fill(_ key: String, _ value: Value?) {
            if let value, !members.contains(where: { $0.0 == key }) { members.append((key, value)) }
        }
        fill("Arn", .string(arn))
        fill("Hostname", .string(hostname))
        fill("Os", .string(d.os))
        fill("Architecture", .string("x86_64"))
        fill("InstallUpdatesOnBoot", .boolean(true))
        fill("AgentVersion", .string("INHERIT"))
        // EC2's own settings mean nothing for a machine registered from outside EC2.
        if !registered {
            fill("RootDeviceType", .string(d.rootDeviceType))
            fill("EbsOptimized", .boolean(false))
            fill("SshKeyName", d.sshKeyName.map(Value.string))
            fill("AvailabilityZone", d.availabilityZone.map(Value.string))
            fill("SubnetId", d.subnetId.map(Value.string))
            fill("InstanceProfileArn", d.instanceProfileArn.map(Value.string))
        }
        members.append(("InfrastructureClass", .string(registered ? "on-premises" : "ec2")))
        return members
    }

    func instanceArn(_ stack: StackRow, _ access: Access, _ id: String) -> String {
        "arn:aws:opsworks:\(stack.region):\(access.account):instance/\(id)"
    }

    /// Inserts a new instance of `stackID` with its defaults.
    private func insertInstance(_ c: Connection, change: Int64, id: String, stack: StackRow, access: Access,
                                given: [(String, Value)], layerIDs: [String], registered: Bool,
                                status: String, createdAt: Int64) throws {
        let defaults = try stackDefaults(c, stack.id)
        var hostname = ""
        if case .string(let h)? = given.first(where: { $0.0 == "Hostname" })?.1 { hostname = h } else {
            hostname = try nextHostname(c, stackID: stack.id, theme: defaults.hostnameTheme, firstLayer: layerIDs.first)
        }
        var members = Store.withDefaults(given, defaults, registered: registered, hostname: hostname,
                                         arn: instanceArn(stack, access, id))
        if registered, let caller { members.append(("RegisteredBy", .string(caller))) }
        let body = try Store.kept(.object(members), .instance, dropping: ["StackId"])
        var os = ""
        if case .string(let o)? = members.first(where: { $0.0 == "Os" })?.1 { os = o }
        try insertResource(c, .instance, id: id, stackID: stack.id, createdAt: createdAt, body: body, change: change,
                           extra: ["status": status, "layer_ids": Store.unique(layerIDs).joined(separator: ","), "os": os])
    }

    func createInstance(_ r: CreateInstanceRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        let stackID = r.stackId
        let layerIDs = r.layerIds
        let id = Store.newID()
        let createdAt = now()
        try engine.write { c, change in
            let stack = try stackRow(c, stackID)
            let stacks = try layerStacks(c, layerIDs)
            try access.check(c, stack)
            try Store.checkSameStack(stacks, stackID)
            try insertInstance(c, change: change, id: id, stack: stack, access: access, given: r.value.members,
                               layerIDs: layerIDs, registered: false, status: "stopped", createdAt: createdAt)
        }
        return try Store.json(.object([("InstanceId", .string(id))]))
    }

    /// A machine outside EC2 joins the stack: `online` at once, without layers until
    /// AssignInstance, `on-premises`, registered by the caller.
    func registerInstance(_ r: RegisterInstanceRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        let stackID = r.stackId
        let id = Store.newID()
        let createdAt = now()
        try engine.write { c, change in
            let stack = try stackRow(c, stackID)
            try access.check(c, stack)
            try insertInstance(c, change: change, id: id, stack: stack, access: access, given: r.value.members,
                               layerIDs: [], registered: true, status: "online", createdAt: createdAt)
        }
        return try Store.json(.object([("InstanceId", .string(id))]))
    }

    // MARK: Update, layers

    func updateInstance(_ r: UpdateInstanceRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        try engine.write { c, _ in
            let i = try instanceState(c, r.instanceId, access)
            let stacks = try layerStacks(c, r.layerIds ?? [])
            try access.check(c, i.stack)
            try Store.checkSameStack(stacks, i.stack.id)
            var members = i.members
            for (k, v) in r.value.members where k != "InstanceId" { Store.set(&members, k, v) }
            try saveInstance(c, i.id, members)
        }
        return try Store.empty()
    }

    static func checkRegistered(_ i: InstanceState, _ operation: Operation) throws {
        if !i.registered {
            throw OwdError.validation("Instance \(i.id) is not a registered instance: \(operation.rawValue) works on registered instances only (RegisterInstance)")
        }
    }

    /// A registered instance joins layers (added after those it has, each once).
    func assignInstance(_ r: AssignInstanceRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        try engine.write { c, _ in
            let i = try instanceState(c, r.instanceId, access)
            let stacks = try layerStacks(c, r.layerIds)
            try access.check(c, i.stack)
            try Store.checkSameStack(stacks, i.stack.id)
            try Store.checkRegistered(i, access.operation)
            var members = i.members
            let had = members.first { $0.0 == "LayerIds" }.map { (try? Decode.strings($0.1)) ?? [] } ?? []
            Store.set(&members, "LayerIds", .list(Store.unique(had + r.layerIds).map(Value.string)))
            try saveInstance(c, i.id, members)
        }
        return try Store.empty()
    }

    /// A registered instance leaves all of its layers (it stays in the stack).
    func unassignInstance(_ r: UnassignInstanceRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        try engine.write { c, _ in
            let i = try instanceState(c, r.instanceId, access)
            try access.check(c, i.stack)
            try Store.checkRegistered(i, access.operation)
            var members = i.members
            Store.set(&members, "LayerIds", .list([]))
            try saveInstance(c, i.id, members)
        }
        return try Store.empty()
    }

    // MARK: Start, stop, reboot

    /// Every command of `instanceIDs` still `pending` becomes `failed` (CompletedAt `at`, no
    /// ExitCode), and each deployment concerned rolls up (section 5), in the caller's
    /// transaction: no deployment waits on an instance that has stopped or left (section 12).
    /// The one way StopInstance, StopStack, DeleteInstance and DeregisterInstance do it.
    func failPendingCommands(_ c: Connection, change: Int64, instanceIDs: [String], at: Int64) throws {
        guard !instanceIDs.isEmpty else { return }
        let ids = try Value.list(instanceIDs.map(Value.string)).jsonText()
        let q = try c.prepare("""
            SELECT deployment_seq, count(*) FROM commands
            WHERE instance_id IN (SELECT value FROM json_each(?)) AND status='pending' GROUP BY deployment_seq
            """)
        q.bind(1, ids)
        var affected: [(Int64, Int64)] = []
        do {
            defer { q.reset() }
            while try q.step() { affected.append((q.int(0), q.int(1))) }
        }
        guard !affected.isEmpty else { return }
        let u = try c.prepare("""
            UPDATE commands SET status='failed', completed_at=?, exit_code=NULL
            WHERE instance_id IN (SELECT value FROM json_each(?)) AND status='pending'
            """)
        u.bind(1, at).bind(2, ids)
        try u.run()
        for (seq, n) in affected { try rollUp(c, change: change, deploymentSeq: seq, completed: n) }
    }

    func setStatus(_ c: Connection, _ ids: [String], _ status: String, change: Int64, at: Int64) throws {
        let s = try c.prepare("UPDATE instances SET status=? WHERE id=?")
        for id in ids {
            s.bind(1, status).bind(2, id)
            try s.run()
        }
        if status == "stopped" { try failPendingCommands(c, change: change, instanceIDs: ids, at: at) }
    }

    func startInstance(_ r: StartInstanceRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        try engine.write { c, change in
            let i = try instanceState(c, r.instanceId, access)
            try access.check(c, i.stack)
            try setStatus(c, [i.id], "online", change: change, at: now())
        }
        return try Store.empty()
    }

    func stopInstance(_ r: StopInstanceRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        try engine.write { c, change in
            let i = try instanceState(c, r.instanceId, access)
            try access.check(c, i.stack)
            try setStatus(c, [i.id], "stopped", change: change, at: now())
        }
        return try Store.empty()
    }

    /// AWS rebooted the machine; owd has no machine to reboot: the instance must be
    /// `online` and stays so, its commands untouched.
    func rebootInstance(_ r: RebootInstanceRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        try engine.write { c, _ in
            let i = try instanceState(c, r.instanceId, access)
            try access.check(c, i.stack)
            if i.status != "online" {
                throw OwdError.validation("Instance \(i.id) is \(i.status): RebootInstance needs an online instance")
            }
        }
        return try Store.empty()
    }

    /// The stack's instances that StartStack and StopStack act on: those it created
    /// (registered machines are started and stopped outside owd).
    func createdInstances(_ c: Connection, _ stackID: String) throws -> [String] {
        let s = try c.prepare("""
            SELECT id FROM instances WHERE stack_id=?
              AND coalesce(json_extract(body, '$.InfrastructureClass'), 'ec2') <> 'on-premises' ORDER BY seq
            """)
        s.bind(1, stackID)
        defer { s.reset() }
        var ids: [String] = []
        while try s.step() { ids.append(s.string(0) ?? "") }
        return ids
    }

    func startStack(_ r: StartStackRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        try stackInstances(r.stackId, access, "online")
    }

    func stopStack(_ r: StopStackRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        try stackInstances(r.stackId, access, "stopped")
    }

    private func stackInstances(_ stackID: String, _ access: Access, _ status: String) throws -> UnsafeMutablePointer<json_t> {
        try engine.write { c, change in
            let stack = try stackRow(c, stackID)
            try access.check(c, stack)
            try setStatus(c, try createdInstances(c, stackID), status, change: change, at: now())
        }
        return try Store.empty()
    }

    // MARK: Delete, deregister

    func deleteInstance(_ r: DeleteInstanceRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        try engine.write { c, change in
            let i = try instanceState(c, r.instanceId, access)
            try access.check(c, i.stack)
            if i.status == "online" {
                throw OwdError.validation("Instance \(i.id) is online: stop it (StopInstance) before deleting it")
            }
            try leave(c, change: change, i.id)
        }
        return try Store.empty()
    }

    /// Any instance, in any state, leaves the stack (a registered machine goes on outside owd).
    func deregisterInstance(_ r: DeregisterInstanceRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        try engine.write { c, change in
            let i = try instanceState(c, r.instanceId, access)
            try access.check(c, i.stack)
            try leave(c, change: change, i.id)
        }
        return try Store.empty()
    }

    /// An instance leaves its stack: its pending commands fail, then it is removed through
    /// the tombstone primitive. Its commands and deployments stay (history).
    private func leave(_ c: Connection, change: Int64, _ id: String) throws {
        try failPendingCommands(c, change: change, instanceIDs: [id], at: now())
        try engine.remove(c, change: change, .instance, id: id)
    }
}

import CJansson
import CSQLite

/// Stacks, layers, apps and instances (section 6): enough of each for deployments to mean
/// something. What a create call is given is kept (the members its describe call
/// returns) and returned with the computed members.
struct ResourceKind {
    let resource: Resource
    let table: String
    let idMember: String
    let listKey: StaticString
    let outputShape: String
    /// Extra columns a row answers with, after the stored members.
    let extra: (Statement) -> [(String, Value)]

    static let stack = ResourceKind(resource: .stack, table: "stacks", idMember: "StackId", listKey: "Stacks",
                                    outputShape: "Stack", extra: { _ in [] })
    static let layer = ResourceKind(resource: .layer, table: "layers", idMember: "LayerId", listKey: "Layers",
                                    outputShape: "Layer", extra: { _ in [] })
    static let app = ResourceKind(resource: .app, table: "apps", idMember: "AppId", listKey: "Apps",
                                  outputShape: "App", extra: { _ in [] })
    static let instance = ResourceKind(resource: .instance, table: "instances", idMember: "InstanceId",
                                       listKey: "Instances", outputShape: "Instance",
                                       extra: { s in [("Status", .string(s.string(5) ?? ""))] })
}

extension Store {
    /// The given members a describe call may return (the output shape's members).
    static func kept(_ v: Value, _ kind: ResourceKind, dropping: Set<String> = [],
                     adding: [(String, Value)] = []) throws -> String {
        let allowed = OperationShapes.outputMembers[kind.outputShape] ?? []
        return try Value.object(adding + v.members.filter { allowed.contains($0.0) && !dropping.contains($0.0) }).jsonText()
    }

    func insertResource(_ c: Connection, _ kind: ResourceKind, id: String, stackID: String, createdAt: Int64,
                        body: String, change: Int64, extra: [String: String] = [:]) throws {
        var columns = ["id", "stack_id", "created_at", "body"]
        var values: [String?] = [id, stackID, nil, body]
        if kind.table == "apps" { columns.append("change_seq"); values.append(nil) }
        for (k, v) in extra.sorted(by: { $0.key < $1.key }) { columns.append(k); values.append(v) }
        let s = try c.prepare("INSERT INTO \(kind.table)(\(columns.joined(separator: ","))) VALUES(\(columns.map { _ in "?" }.joined(separator: ",")))")
        for (i, v) in values.enumerated() {
            let col = columns[i]
            if col == "created_at" { s.bind(Int32(i + 1), createdAt) }
            else if col == "change_seq" { s.bind(Int32(i + 1), change) }
            else { s.bind(Int32(i + 1), v) }
        }
        try s.run()
    }

    // MARK: Create

    /// CreateLayer and CreateApp: a resource of a stack the caller manages. `body` makes
    /// what is kept (the given members with their defaults) and applies the operation's
    /// other rules (section 1's order: after the stack and the permission); `then` adds
    /// what else the resource needs.
    func createInStack(_ stackID: String, _ kind: ResourceKind, _ access: Access,
                       body: (Connection, StackRow, _ id: String) throws -> String,
                       then: (Connection, _ id: String, _ body: String) throws -> Void = { _, _, _ in }) throws -> UnsafeMutablePointer<json_t> {
        let id = Store.newID()
        let createdAt = now()
        try engine.write { c, change in
            let stack = try stackRow(c, stackID)
            try access.check(c, stack)
            let body = try body(c, stack, id)
            try insertResource(c, kind, id: id, stackID: stackID, createdAt: createdAt, body: body, change: change)
            try then(c, id, body)
        }
        return try Store.json(.object([(kind.idMember, .string(id))]))
    }

    // MARK: Describe

    /// The one describe walk of stacks, layers, apps and instances: `ids` (every one must
    /// exist; duplicates once) or a filter (`column` = `value`, whose own resource must
    /// exist), or everything the caller may see; oldest first.
    func describe(_ kind: ResourceKind, _ access: Access, ids: [String]?,
                  filter: (column: String, value: String, owner: Resource)?) throws -> UnsafeMutablePointer<json_t> {
        let grants = grants()
        // A stack is its own stack: the stacks table has no stack_id column.
        let stackColumn = kind.resource == .stack ? "id" : "stack_id"
        let select = "SELECT id, \(stackColumn), created_at, body, seq\(kind.table == "instances" ? ", status, agent_seen_at" : "") FROM \(kind.table)"
        let items: [UnsafeMutablePointer<json_t>] = try engine.read { c in
            var out: [UnsafeMutablePointer<json_t>] = []
            func collect(_ s: Statement, filter: Bool) throws {
                defer { s.reset() }
                while try s.step() {
                    let stackID = s.string(1) ?? ""
                    if filter && !access.allows(grants, stackID: stackID) { continue }
                    out.append(try resourceJSON(kind, s))
                }
            }
            do {
                if let ids {
                    var unique: [String] = []
                    for id in ids where !unique.contains(id) {
                        _ = try stackOf(c, kind.resource, id)
                        unique.append(id)
                    }
                    for id in unique { try access.check(grants, stackID: try stackOf(c, kind.resource, id)) }
                    if !unique.isEmpty {
                        let s = try c.prepare(select + " WHERE id IN (SELECT value FROM json_each(?)) ORDER BY seq")
                        s.bind(1, try Value.list(unique.map { .string($0) }).jsonText())
                        try collect(s, filter: false)
                    }
                } else if let filter {
                    let stackID = try stackOf(c, filter.owner, filter.value)
                    try access.check(grants, stackID: stackID)
                    let condition = filter.column == "layer_ids"
                        ? " WHERE stack_id=? AND (',' || layer_ids || ',') LIKE ('%,' || ? || ',%') ORDER BY seq"
                        : " WHERE \(filter.column)=? ORDER BY seq"
                    let s = try c.prepare(select + condition)
                    if filter.column == "layer_ids" { s.bind(1, stackID).bind(2, filter.value) } else { s.bind(1, filter.value) }
                    try collect(s, filter: false)
                } else {
                    try collect(try c.prepare(select + " ORDER BY seq"), filter: true)
                }
            } catch {
                out.forEach { cjansson_decref($0) }
                throw error
            }
            return out
        }
        return try Store.list(kind.listKey, items)
    }

    func resourceJSON(_ kind: ResourceKind, _ s: Statement, filtered: Bool = true) throws -> UnsafeMutablePointer<json_t> {
        let body = try JSON.loads(s.string(3) ?? "{}")
        var computed: [(String, Value)] = [(kind.idMember, .string(s.string(0) ?? ""))]
        if kind.resource != .stack { computed.append(("StackId", .string(s.string(1) ?? ""))) }
        computed.append(("CreatedAt", .string(Timestamp.string(s.int(2)))))
        computed += kind.extra(s)
        // Section 14: an online instance whose agent was seen and has not polled lately.
        if kind.resource == .instance, let seen = s.optionalInt(6), s.string(5) == "online",
           now() - seen >= engine.connectionLostAfter {
            computed = computed.map { $0.0 == "Status" ? ("Status", .string("connection_lost")) : $0 }
        }
        for (k, v) in computed {
            guard let j = v.json(), json_object_set_new(body, k, j) == 0 else {
                cjansson_decref(body)
                throw OwdError.outOfMemory
            }
        }
        // Section 10: every answer of a stack, layer or app is built here (unfiltered only
        // for `owd export --with-secrets` and import's comparison with what is stored).
        guard !filtered || Secrets.filter(body, kind.resource) else {
            cjansson_decref(body)
            throw OwdError.outOfMemory
        }
        return body
    }

    func describeStacks(_ r: DescribeStacksRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        try describe(.stack, access, ids: r.stackIds, filter: nil)
    }

    func describeLayers(_ r: DescribeLayersRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        try Store.atMostOne([r.stackId != nil, r.layerIds != nil], message: "Please provide one or more layer IDs or a stack ID")
        return try describe(.layer, access, ids: r.layerIds, filter: r.stackId.map { ("stack_id", $0, .stack) })
    }

    func describeApps(_ r: DescribeAppsRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        try Store.atMostOne([r.stackId != nil, r.appIds != nil], message: "Please provide one or more app IDs or a stack ID")
        return try describe(.app, access, ids: r.appIds, filter: r.stackId.map { ("stack_id", $0, .stack) })
    }

    func describeInstances(_ r: DescribeInstancesRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        try Store.atMostOne([r.stackId != nil, r.layerId != nil, r.instanceIds != nil],
                            message: "Please provide either one or more instance IDs or one stack ID or one layer ID")
        let filter: (String, String, Resource)?
        if let s = r.stackId { filter = ("stack_id", s, .stack) }
        else if let l = r.layerId { filter = ("layer_ids", l, .layer) }
        else { filter = nil }
        return try describe(.instance, access, ids: r.instanceIds, filter: filter)
    }
}

import CJansson

/// Layers (sections 6, 11, 12): creation with AWS's defaults and the stack's uniqueness
/// rules, update under the same rules, deletion of a layer without instances.
extension Store {
    /// Section 11: what the model documents as a layer's defaults (computed, as the stack's).
    static var layerDefaults: [(String, Value)] { [
        ("EnableAutoHealing", .boolean(true)),
        ("AutoAssignElasticIps", .boolean(false)),
        ("AutoAssignPublicIps", .boolean(true)),
        ("InstallUpdatesOnBoot", .boolean(true)),
        ("UseEbsOptimizedInstances", .boolean(false)),
    ] }

    static func layerArn(region: String, account: String, id: String) -> String {
        "arn:aws:opsworks:\(region):\(account):layer/\(id)/"
    }

    /// The account of a stack (from its Arn; the creator's).
    func stackAccount(_ c: Connection, _ stackID: String) throws -> String {
        let s = try c.prepare("SELECT json_extract(body, '$.Arn') FROM stacks WHERE id=?")
        s.bind(1, stackID)
        defer { s.reset() }
        guard try s.step(), let arn = s.string(0) else { return "" }
        let parts = arn.split(separator: ":", omittingEmptySubsequences: false)
        return parts.count > 4 ? String(parts[4]) : ""
    }

    /// Section 11: within a stack, no two layers share a Name or a Shortname, and at most
    /// one layer has each type other than `custom`. `except` is the layer being updated.
    static func checkLayerUnique(_ c: Connection, stackID: String, except: String?, name: String?,
                                 shortname: String?, type: String?) throws {
        func taken(_ member: String, _ value: String) throws -> Bool {
            try count(c, "SELECT count(*) FROM layers WHERE stack_id=? AND id<>? AND json_extract(body, '$.\(member)')=?",
                      [stackID, except ?? "", value]) > 0
        }
        if let name, try taken("Name", name) {
            throw OwdError.validation("There is already a layer named \"\(name)\" for this stack")
        }
        if let shortname, try taken("Shortname", shortname) {
            throw OwdError.validation("There is already a layer with shortname \"\(shortname)\" for this stack")
        }
        if let type, type != "custom", try taken("Type", type) {
            throw OwdError.validation("There is already a layer of type \(type) in this stack")
        }
    }

    func createLayer(_ r: CreateLayerRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        try createInStack(r.stackId, .layer, access, body: { c, stack, id in
            try Store.checkLayerUnique(c, stackID: stack.id, except: nil, name: r.name, shortname: r.shortname, type: r.type)
            let arn = Store.layerArn(region: stack.region, account: try stackAccount(c, stack.id), id: id)
            return try Store.kept(.object(Store.withDefaults(r.value.members, Store.layerDefaults)), .layer,
                                  dropping: ["StackId"], adding: [("Arn", .string(arn))])
        })
    }

    func updateLayer(_ r: UpdateLayerRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        let update = r.value.members.filter { $0.0 != "LayerId" }
        try engine.write { c, _ in
            let stack = try stackRow(c, try stackOf(c, .layer, r.layerId))
            try access.check(c, stack)
            try Store.checkLayerUnique(c, stackID: stack.id, except: r.layerId, name: r.name, shortname: r.shortname, type: nil)
            let members = Store.merged(try storedMembers(c, "layers", r.layerId), update)
            let u = try c.prepare("UPDATE layers SET body=? WHERE id=?")
            u.bind(1, try Store.kept(.object(members), .layer, dropping: ["StackId"])).bind(2, r.layerId)
            try u.run()
        }
        return try Store.empty()
    }

    /// Section 12: a layer with instances stays (registered ones are unassigned first).
    /// Layers are read from the store, not the cache: deleting the row reaches every handle.
    func deleteLayer(_ r: DeleteLayerRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        try engine.write { c, _ in
            let stack = try stackRow(c, try stackOf(c, .layer, r.layerId))
            try access.check(c, stack)
            let instances = try Store.count(c, """
                SELECT count(*) FROM instances WHERE stack_id=? AND (',' || layer_ids || ',') LIKE ('%,' || ? || ',%')
                """, [stack.id, r.layerId])
            if instances > 0 {
                throw OwdError.validation("Cannot delete layer \(r.layerId): it still has \(Store.inventory([(instances, "instance")])); delete them (or unassign registered ones) first")
            }
            try c.prepare("DELETE FROM layers WHERE id=?").bind(1, r.layerId).run()
            try c.prepare("DELETE FROM tags WHERE kind='layer' AND id=?").bind(1, r.layerId).run()
        }
        return try Store.empty()
    }
}

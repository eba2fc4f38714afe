import CJansson

/// Section 12: tags of stacks and layers, named by their Arn
/// (`arn:aws:opsworks:<region>:<account>:stack/<id>/`, `.../layer/<id>/`). AWS's limits:
/// at most 40 tags a resource, keys of 1-127 characters not starting with `aws:`, values
/// of at most 256.
extension Store {
    static let maxTags = 40, maxTagKey = 127, maxTagValue = 256

    /// The resource an Arn names: its kind, ID and stack (not found when it does not exist
    /// or the Arn's region is not its stack's).
    func taggedResource(_ c: Connection, _ arn: String) throws -> (kind: Resource, id: String, stack: StackRow) {
        let parts = arn.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        let path = parts.count == 6 ? parts[5].split(separator: "/", omittingEmptySubsequences: false) : []
        guard parts.count == 6, parts[0] == "arn", parts[1] == "aws", parts[2] == "opsworks",
              path.count == 3, path[2].isEmpty, !path[1].isEmpty,
              let kind = path[0] == "stack" ? Resource.stack : path[0] == "layer" ? Resource.layer : nil else {
            throw OwdError.validation("ResourceArn \(arn) is not the Arn of a stack (arn:aws:opsworks:<region>:<account>:stack/<id>/) or a layer (arn:aws:opsworks:<region>:<account>:layer/<id>/)")
        }
        let id = String(path[1])
        let stack = try stackRow(c, try stackOf(c, kind, id))
        if stack.region != parts[3] { throw kind.notFound(id) }
        return (kind, id, stack)
    }

    func tagResource(_ r: TagResourceRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        try engine.write { c, _ in
            let (kind, id, stack) = try taggedResource(c, r.resourceArn)
            try access.check(c, stack)
            for (key, value) in r.tags {
                if key.isEmpty || key.count > Store.maxTagKey {
                    throw OwdError.validation("Tag key \"\(key)\" must be 1 to \(Store.maxTagKey) characters long")
                }
                if key.lowercased().hasPrefix("aws:") {
                    throw OwdError.validation("Tag key \"\(key)\" must not start with aws:")
                }
                if value.count > Store.maxTagValue {
                    throw OwdError.validation("The value of tag \"\(key)\" is longer than \(Store.maxTagValue) characters")
                }
                let s = try c.prepare("INSERT INTO tags(kind, id, stack_id, key, value) VALUES(?,?,?,?,?) ON CONFLICT(kind, id, key) DO UPDATE SET stack_id=excluded.stack_id, value=excluded.value")
                s.bind(1, kind.rawValue).bind(2, id).bind(3, stack.id).bind(4, key).bind(5, value)
                try s.run()
            }
            let n = try Store.count(c, "SELECT count(*) FROM tags WHERE kind=? AND id=?", [kind.rawValue, id])
            if n > Int64(Store.maxTags) {
                throw OwdError.validation("A resource has at most \(Store.maxTags) tags: \(r.resourceArn) would have \(n)")
            }
        }
        return try Store.empty()
    }

    func untagResource(_ r: UntagResourceRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        try engine.write { c, _ in
            let (kind, id, stack) = try taggedResource(c, r.resourceArn)
            try access.check(c, stack)
            for key in r.tagKeys {
                try c.prepare("DELETE FROM tags WHERE kind=? AND id=? AND key=?")
                    .bind(1, kind.rawValue).bind(2, id).bind(3, key).run()
            }
        }
        return try Store.empty()
    }

    /// Keys in order; a page ends before NextToken, the key the next page starts with.
    func listTags(_ r: ListTagsRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        if let m = r.maxResults, m < 1 { throw OwdError.validation("MaxResults must be at least 1, not \(m)") }
        let grants = grants()
        let (tags, next): ([(String, Value)], String?) = try engine.read { c in
            let (kind, id, stack) = try taggedResource(c, r.resourceArn)
            try access.check(grants, stackID: stack.id)
            let s = try c.prepare("SELECT key, value FROM tags WHERE kind=? AND id=? AND key>=? ORDER BY key")
            s.bind(1, kind.rawValue).bind(2, id).bind(3, r.nextToken ?? "")
            defer { s.reset() }
            var tags: [(String, Value)] = []
            while try s.step() {
                let key = s.string(0) ?? ""
                if let m = r.maxResults, tags.count == Int(m) { return (tags, key) }
                tags.append((key, .string(s.string(1) ?? "")))
            }
            return (tags, nil)
        }
        return try Store.json(.object([("Tags", .object(tags))] + (next.map { [("NextToken", .string($0))] } ?? [])))
    }
}

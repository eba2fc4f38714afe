import Foundation
@testable import OwdCore
import Testing

/// behaviour.md section 16: `owd export` and `owd import`.
@Suite("Section 16: import and export")
struct TransferTests {
    /// AWS's published example outputs (awscli's examples/opsworks/describe-*.rst, removed from
    /// aws-cli in 2025 with OpsWorks), kept verbatim.
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/awscli")
    static let exampleFiles = ["stacks", "layers", "apps", "instances", "user-profiles", "permissions",
                               "deployments", "commands"].map { fixtures.appendingPathComponent("\($0).json").path }

    /// The examples come from different stacks: the parents they name but do not hold, as a
    /// saved history of several stacks would have them (written by the test, not AWS's).
    static func parents(_ dir: String) throws -> [String] {
        let stacks = ["38ee91e2-abdc-4208-a107-0b7168b3cc7a", "71c7ca72-55ae-4b6a-8ee1-a8dcded3fa0f",
                      "d72553d4-8727-448c-9b00-f024f0ba1b06"].map {
            ["StackId": $0, "Name": "parent-\($0.prefix(4))", "Region": "us-east-1", "CreatedAt": "2013-07-01T00:00:00+00:00"]
        }
        let layers = [["LayerId": "26cf1d32-6876-42fa-bbf1-9cadc0bff938", "StackId": "71c7ca72-55ae-4b6a-8ee1-a8dcded3fa0f",
                       "Name": "web", "Shortname": "web", "Type": "custom", "CreatedAt": "2013-07-01T00:00:00+00:00"]]
        let instances = ["8c2673b9-3fe5-420d-9cfa-78d875ee7687", "9e588a25-35b2-4804-bd43-488f85ebe5b7"].map {
            ["InstanceId": $0, "StackId": "38ee91e2-abdc-4208-a107-0b7168b3cc7a", "Status": "online",
             "CreatedAt": "2013-07-01T00:00:00+00:00", "Hostname": "php-app\($0.prefix(1))"]
        }
        var out: [String] = []
        for (name, key, list) in [("stacks", "Stacks", stacks), ("layers", "Layers", layers), ("instances", "Instances", instances)] as [(String, String, [[String: String]])] {
            let path = dir + "/parent-\(name).json"
            try JSONSerialization.data(withJSONObject: [key: list]).write(to: URL(fileURLWithPath: path))
            out.append(path)
        }
        return out
    }

    static func dir() -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("owd-transfer-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    static func load(_ path: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
    }

    /// A parsed JSON value without its nulls (AWS's outputs hold some; owd answers never do).
    static func withoutNulls(_ v: Any) -> Any {
        if let d = v as? [String: Any] { return d.filter { !($0.value is NSNull) }.mapValues(withoutNulls) }
        if let a = v as? [Any] { return a.filter { !($0 is NSNull) }.map(withoutNulls) }
        return v
    }

    static func same(_ a: Any, _ b: Any) -> Bool { NSDictionary(dictionary: ["v": a]).isEqual(to: ["v": b]) }

    func importing(_ f: Fixture, _ paths: [String]) throws -> TransferSummary { try f.store.importFiles(paths) }

    func expectRefused(_ f: Fixture, _ paths: [String], naming parts: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let before = try f.dump()
        do {
            _ = try f.store.importFiles(paths)
            Issue.record("import of \(paths) succeeded but should have been refused", sourceLocation: sourceLocation)
        } catch let e as OwdError {
            for p in parts { #expect(e.message.contains(p), "\(e.message) does not name \(p)", sourceLocation: sourceLocation) }
        }
        #expect(try f.dump() == before, "a refused import changed the store", sourceLocation: sourceLocation)
    }

    @Test("AWS's example outputs of every describe call import, and the store answers them back member for member")
    func awsExamplesAnswerBack() throws {
        let f = try Fixture()
        let dir = TransferTests.dir()
        let summary = try importing(f, try TransferTests.parents(dir) + TransferTests.exampleFiles)
        #expect(summary.added == 3 + 1 + 2 + 2 + 2 + 1 + 2 + 1 + 2 + 2 + 2)
        let calls: [(String, String, String, (Any) -> [String: Any])] = [
            ("stacks", "DescribeStacks", "StackId", { ["StackIds": [$0]] }),
            ("layers", "DescribeLayers", "LayerId", { ["LayerIds": [$0]] }),
            ("apps", "DescribeApps", "AppId", { ["AppIds": [$0]] }),
            ("instances", "DescribeInstances", "InstanceId", { ["InstanceIds": [$0]] }),
            ("user-profiles", "DescribeUserProfiles", "IamUserArn", { ["IamUserArns": [$0]] }),
            ("deployments", "DescribeDeployments", "DeploymentId", { ["DeploymentIds": [$0]] }),
            ("commands", "DescribeCommands", "CommandId", { ["CommandIds": [$0]] }),
        ]
        for (file, op, idMember, request) in calls {
            let saved = try TransferTests.load(TransferTests.fixtures.appendingPathComponent("\(file).json").path)
            let key = saved.keys.first!
            for record in saved[key] as! [[String: Any]] {
                let answer = try f.call(op, request(record[idMember]!))[key] as! [[String: Any]]
                #expect(answer.count == 1)
                let expected = TransferTests.withoutNulls(record)
                #expect(TransferTests.same(answer.first ?? [:], expected), "\(op) \(record[idMember]!): \(answer) != \(expected)")
            }
        }
        let permissions = try TransferTests.load(TransferTests.fixtures.appendingPathComponent("permissions.json").path)["Permissions"] as! [[String: Any]]
        let answer = try f.call("DescribePermissions", ["StackId": permissions[0]["StackId"]!])["Permissions"] as! [[String: Any]]
        #expect(TransferTests.same(answer, permissions))
        // The stack's deployments as the cache answers them: newest first, as AWS listed them.
        let listed = try f.deployments(["StackId": "38ee91e2-abdc-4208-a107-0b7168b3cc7a"]).map { $0["DeploymentId"] as! String }
        #expect(listed == ["6ed0df4c-9ef7-4812-8dac-d54a05be1029", "19d3121e-d949-4ff2-9f9d-94eac087862a"])
    }

    @Test("A record already present and equal is skipped")
    func equalRecordsSkipped() throws {
        let f = try Fixture()
        let dir = TransferTests.dir()
        let files = try TransferTests.parents(dir) + TransferTests.exampleFiles
        let first = try importing(f, files)
        let before = try f.dump()
        let again = try importing(f, files)
        #expect(again.added == 0)
        #expect(again.skipped == first.added)
        #expect(try f.dump() == before)
    }

    @Test("A record present and different refuses the whole import, naming the file and the record; the store is unchanged")
    func conflictingRecordRefused() throws {
        let f = try Fixture()
        let dir = TransferTests.dir()
        _ = try importing(f, try TransferTests.parents(dir) + TransferTests.exampleFiles)
        var saved = try TransferTests.load(TransferTests.exampleFiles[6])
        var list = saved["Deployments"] as! [[String: Any]]
        list[1]["Status"] = "failed"
        saved["Deployments"] = list
        let path = dir + "/changed.json"
        try JSONSerialization.data(withJSONObject: saved).write(to: URL(fileURLWithPath: path))
        // A new stack in the same import is not added either.
        let extra = dir + "/new-stack.json"
        try Data(#"{"Stacks": [{"StackId": "00000000-0000-4000-8000-000000000001", "Name": "n", "Region": "us-east-1", "CreatedAt": "2014-01-01T00:00:00+00:00"}]}"#.utf8).write(to: URL(fileURLWithPath: extra))
        try expectRefused(f, [extra, path], naming: [path, "Deployment 19d3121e-d949-4ff2-9f9d-94eac087862a", "conflicts"])
        #expect(f.error("DescribeStacks", ["StackIds": ["00000000-0000-4000-8000-000000000001"]])?.type == "ResourceNotFoundException")
    }

    @Test("The same ID twice in one import with different records is refused")
    func conflictWithinImportRefused() throws {
        let f = try Fixture()
        let dir = TransferTests.dir()
        let path = dir + "/stacks.json"
        try Data(#"""
            {"Stacks": [{"StackId": "00000000-0000-4000-8000-000000000001", "Name": "a", "Region": "us-east-1", "CreatedAt": "2014-01-01T00:00:00+00:00"},
                        {"StackId": "00000000-0000-4000-8000-000000000001", "Name": "b", "Region": "us-east-1", "CreatedAt": "2014-01-01T00:00:00+00:00"}]}
            """#.utf8).write(to: URL(fileURLWithPath: path))
        try expectRefused(f, [path], naming: [path, "Stack 00000000-0000-4000-8000-000000000001"])
    }

    @Test("A record whose stack, app, layer, instance or deployment is neither in the store nor in the files is refused, naming both IDs")
    func missingParentRefused() throws {
        let f = try Fixture()
        // Deployments without their stack (the examples alone).
        try expectRefused(f, [TransferTests.exampleFiles[6]],
                          naming: [TransferTests.exampleFiles[6], "Deployment 6ed0df4c-9ef7-4812-8dac-d54a05be1029",
                                   "stack 38ee91e2-abdc-4208-a107-0b7168b3cc7a", "neither in the store nor in the files"])
        // Commands without their deployments.
        try expectRefused(f, [TransferTests.exampleFiles[7]],
                          naming: ["Command 008c1a91-ec59-4d51-971d-3adff54b00cc", "deployment 6ed0df4c-9ef7-4812-8dac-d54a05be1029"])
        // An instance without its layer.
        let dir = TransferTests.dir()
        let parents = try TransferTests.parents(dir)
        try expectRefused(f, [parents[0], TransferTests.exampleFiles[3]],
                          naming: ["Instance 4d6d1710-ded9-42a1-b08e-b043ad7af1e2", "layer 26cf1d32-6876-42fa-bbf1-9cadc0bff938"])
        // An app's stack.
        try expectRefused(f, [TransferTests.exampleFiles[2]],
                          naming: ["App da1decc1-0dff-43ea-ad7c-bb667cd87c8b", "stack 38ee91e2-abdc-4208-a107-0b7168b3cc7a"])
        // A deployment's app.
        let path = dir + "/deployment-of-app.json"
        try Data(#"""
            {"Deployments": [{"DeploymentId": "00000000-0000-4000-8000-0000000000d1", "StackId": "38ee91e2-abdc-4208-a107-0b7168b3cc7a",
              "AppId": "00000000-0000-4000-8000-0000000000a1", "CreatedAt": "2014-01-01T00:00:00+00:00", "Status": "running",
              "Command": {"Name": "deploy", "Args": {}}, "InstanceIds": []}]}
            """#.utf8).write(to: URL(fileURLWithPath: path))
        try expectRefused(f, [parents[0], path], naming: ["Deployment 00000000-0000-4000-8000-0000000000d1", "app 00000000-0000-4000-8000-0000000000a1"])
    }

    @Test("Files are taken in parent order whatever their order on the command line")
    func parentsInLaterFiles() throws {
        let f = try Fixture()
        let dir = TransferTests.dir()
        let files = try TransferTests.parents(dir) + TransferTests.exampleFiles
        let summary = try importing(f, files.reversed())
        #expect(summary.added == 20)
    }

    @Test("A truncated file, a file that is not JSON and a file of the wrong shape are refused naming the file; the store is unchanged")
    func badFilesRefused() throws {
        let f = try Fixture()
        _ = try f.stack()
        let dir = TransferTests.dir()
        let whole = try String(contentsOfFile: TransferTests.exampleFiles[0], encoding: .utf8)
        let cases: [(String, String, [String])] = [
            ("truncated.json", String(whole.prefix(whole.count / 2)), ["truncated"]),
            ("truncated-end.json", String(whole.dropLast(3)), ["truncated"]),
            ("empty.json", "", ["empty"]),
            ("not-json.json", "StackId,Name\n1,a\n", ["not JSON"]),
            ("bad-record.json", #"{"Stacks": [{"StackId": "x" "Name": 1}]}"#, ["record 1", "not JSON"]),
            ("list.json", #"[{"StackId": "00000000-0000-4000-8000-000000000001"}]"#, ["not JSON: expected {"]),
            ("unknown-key.json", #"{"Things": []}"#, ["wrong shape", "Things"]),
            ("not-a-list.json", #"{"Stacks": {}}"#, ["wrong shape", "not a list"]),
            ("two-members.json", #"{"Stacks": [], "Layers": []}"#, ["one member only"]),
            ("not-an-object.json", #"{"Stacks": [1]}"#, ["record 1", "wrong shape"]),
            ("wrong-type.json", #"{"Stacks": [{"StackId": "00000000-0000-4000-8000-000000000001", "Name": 5, "Region": "us-east-1", "CreatedAt": "2014-01-01T00:00:00+00:00"}]}"#,
             ["Stack 00000000-0000-4000-8000-000000000001", "wrong shape"]),
            ("unknown-member.json", #"{"Stacks": [{"StackId": "00000000-0000-4000-8000-000000000001", "Colour": "red", "Region": "us-east-1", "CreatedAt": "2014-01-01T00:00:00+00:00"}]}"#,
             ["Stack 00000000-0000-4000-8000-000000000001", "Colour"]),
            ("bad-time.json", #"{"Stacks": [{"StackId": "00000000-0000-4000-8000-000000000001", "Region": "us-east-1", "CreatedAt": "yesterday"}]}"#,
             ["CreatedAt", "yesterday"]),
            ("bad-duration.json", #"{"Deployments": [{"DeploymentId": "00000000-0000-4000-8000-0000000000d1", "StackId": "aeb7523e-7c8b-49d4-b866-03aae9d4fbcb", "CreatedAt": "2014-01-01T00:00:00+00:00", "CompletedAt": "2014-01-01T00:00:10+00:00", "Duration": 11, "Status": "successful", "Command": {"Name": "deploy"}}]}"#,
             ["Duration 11"]),
        ]
        for (name, text, parts) in cases {
            let path = dir + "/" + name
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            // A good file beside it is not added either.
            try expectRefused(f, [TransferTests.exampleFiles[0], path], naming: [path] + parts)
        }
        try expectRefused(f, [dir + "/missing.json"], naming: [dir + "/missing.json"])
    }

    @Test("Export writes the describe outputs with secrets filtered, unless --with-secrets")
    func exportFiltersSecrets() throws {
        let f = try Fixture()
        let stack = try f.stack()
        try f.call("CreateApp", ["StackId": stack, "Name": "a", "Type": "other",
                                 "AppSource": ["Type": "git", "Url": "u", "Password": "hunter2"],
                                 "Environment": [["Key": "K", "Value": "secret-v", "Secure": true]]])
        let filtered = TransferTests.dir(), plain = TransferTests.dir()
        let written = try f.store.export(to: filtered)
        #expect(written.map { ($0.0 as NSString).lastPathComponent } == ["stacks.json", "layers.json", "apps.json", "instances.json",
                                                                       "user-profiles.json", "permissions.json", "deployments.json", "commands.json"])
        let text = try String(contentsOfFile: filtered + "/apps.json", encoding: .utf8)
        #expect(!text.contains("hunter2") && !text.contains("secret-v") && text.contains("*****FILTERED*****"))
        try f.store.export(to: plain, withSecrets: true)
        let secret = try String(contentsOfFile: plain + "/apps.json", encoding: .utf8)
        #expect(secret.contains("hunter2") && secret.contains("secret-v"))
        // A filtered export imported into the same store is equal to what it holds: skipped.
        let again = try f.store.importFiles(written.map(\.0))
        #expect(again.added == 0)
    }

    @Test("Import and export are the embedding program's: an identified caller is refused")
    func callerRefused() throws {
        let f = try Fixture(caller: "arn:aws:iam::123456789012:user/someone")
        #expect(throws: OwdError.self) { try f.store.importFiles(TransferTests.exampleFiles) }
        #expect(throws: OwdError.self) { try f.store.export(to: TransferTests.dir()) }
    }

    @Test("Imported records reach every handle's cache through the change sequence")
    func importReachesOtherHandles() throws {
        let path = sharedStorePath()
        let other = try Fixture(path: path)
        #expect(try other.deployments().isEmpty)
        let f = try Fixture(path: path)
        _ = try importing(f, try TransferTests.parents(TransferTests.dir()) + TransferTests.exampleFiles)
        #expect(try other.deployments().count == 2)
        #expect(try other.commands(["DeploymentId": "6ed0df4c-9ef7-4812-8dac-d54a05be1029"]).count == 1)
    }

    /// A random store: stacks with layers, apps, instances, deployments in every state,
    /// commands acknowledged and completed, user profiles, permissions, tags of nothing.
    static func randomStore(seed: UInt64) throws -> Fixture {
        var rng = SplitMix(seed)
        let f = try Fixture()
        for p in 0..<Int(rng.next() % 3) {
            try f.call("CreateUserProfile", ["IamUserArn": "arn:aws:iam::123456789012:user/u\(p)", "SshPublicKey": "ssh-rsa \(rng.next())"])
        }
        for s in 0..<(1 + Int(rng.next() % 3)) {
            f.clock.advance(Int64(rng.next() % 5000))
            let stack = try f.stack("stack\(s)", region: ["us-east-1", "eu-west-1"][Int(rng.next() % 2)])
            var layers: [String] = []
            for l in 0..<(1 + Int(rng.next() % 2)) {
                layers.append(try f.call("CreateLayer", ["StackId": stack, "Type": "custom", "Name": "l\(l)", "Shortname": "l\(l)",
                                                         "Attributes": ["MysqlRootPassword": "pw\(rng.next())"]])["LayerId"] as! String)
            }
            var apps: [String] = []
            for a in 0..<Int(rng.next() % 3) {
                apps.append(try f.call("CreateApp", ["StackId": stack, "Name": "app\(a)", "Type": "other",
                                                     "AppSource": ["Type": "git", "Url": "https://x/\(a)", "SshKey": "k\(rng.next())"]])["AppId"] as! String)
            }
            var instances: [String] = []
            for _ in 0..<(1 + Int(rng.next() % 3)) {
                instances.append(try f.instance(stack, layers: [layers[Int(rng.next() % UInt64(layers.count))]], online: rng.next() % 4 != 0))
            }
            for p in 0..<3 where rng.next() % 2 == 0 {
                let arn = "arn:aws:iam::123456789012:user/u\(p)"
                if (try? f.call("DescribeUserProfiles", ["IamUserArns": [arn]])) != nil {
                    try f.call("SetPermission", ["StackId": stack, "IamUserArn": arn, "Level": ["show", "deploy", "manage"][Int(rng.next() % 3)],
                                                 "AllowSsh": rng.next() % 2 == 0])
                }
            }
            for _ in 0..<Int(rng.next() % 6) {
                f.clock.advance(Int64(rng.next() % 600))
                let app = apps.isEmpty || rng.next() % 2 == 0 ? nil : apps[Int(rng.next() % UInt64(apps.count))]
                let name = app == nil ? ["configure", "setup", "execute_recipes"][Int(rng.next() % 3)] : "deploy"
                guard let d = try? f.deploy(stack, app: app, command: name,
                                            args: name == "execute_recipes" ? ["recipes": ["a::b"]] : nil,
                                            extra: rng.next() % 2 == 0 ? ["Comment": "c\(rng.next())", "CustomJson": "{\"x\": 1}"] : [:]) else { continue }
                for cmd in try f.commands(["DeploymentId": d]) {
                    f.clock.advance(Int64(rng.next() % 90))
                    switch rng.next() % 4 {
                    case 0: break
                    case 1: try f.call("AcknowledgeCommand", ["CommandId": cmd["CommandId"]!])
                    default: try f.complete(cmd["CommandId"] as! String, rng.next() % 3 == 0 ? "failed" : "successful", exitCode: Int(rng.next() % 2))
                    }
                }
            }
        }
        return f
    }

    /// Every Describe call with no parameter, and per stack, as text.
    static func answers(_ f: Fixture) throws -> [String] {
        var out: [String] = []
        for op in ["DescribeStacks", "DescribeLayers", "DescribeApps", "DescribeInstances", "DescribeDeployments",
                   "DescribeCommands", "DescribeUserProfiles", "DescribePermissions"] {
            out.append(try f.text(op))
        }
        let stacks = try f.call("DescribeStacks")["Stacks"] as! [[String: Any]]
        for s in stacks {
            let id = s["StackId"]!
            for op in ["DescribeLayers", "DescribeApps", "DescribeInstances", "DescribeDeployments", "DescribePermissions"] {
                out.append(try f.text(op, ["StackId": id]))
            }
            out.append(try f.text("DescribeStackSummary", ["StackId": id]))
        }
        for d in try f.deployments() {
            out.append(try f.text("DescribeCommands", ["DeploymentId": d["DeploymentId"]!]))
        }
        for i in try f.call("DescribeInstances")["Instances"] as! [[String: Any]] {
            out.append(try f.text("DescribeCommands", ["InstanceId": i["InstanceId"]!]))
        }
        return out
    }

    @Test("Export then import into a new store answers every Describe call identically (random stores)", arguments: 0..<12)
    func exportImportRoundTrip(seed: Int) throws {
        let original = try TransferTests.randomStore(seed: UInt64(seed) &* 0x9E37_79B9_7F4A_7C15 &+ 1)
        let dir = TransferTests.dir()
        let files = try original.store.export(to: dir, withSecrets: true).map(\.0)
        let copy = try Fixture()
        _ = try copy.store.importFiles(files)
        let a = try TransferTests.answers(original), b = try TransferTests.answers(copy)
        #expect(a.count == b.count)
        for (x, y) in zip(a, b) { #expect(x == y) }
        // And the copy's export is the original's, byte for byte.
        let again = TransferTests.dir()
        try copy.store.export(to: again, withSecrets: true)
        for name in files.map({ ($0 as NSString).lastPathComponent }) {
            #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/" + name)) == Data(contentsOf: URL(fileURLWithPath: again + "/" + name)), "\(name)")
        }
    }

    @Test("Deployments and commands read without jansson (the fast path) make the very store the jansson path makes (random stores)", arguments: 0..<6)
    func fastPathSameStore(seed: Int) throws {
        let original = try TransferTests.randomStore(seed: UInt64(seed) &* 0x2545_F491_4F6C_DD1D &+ 7)
        let dir = TransferTests.dir()
        let files = try original.store.export(to: dir, withSecrets: true).map(\.0)
        let fast = try Fixture(), slow = try Fixture()
        let a = try fast.store.importFiles(files, progress: nil, fastPath: true)
        let b = try slow.store.importFiles(files, progress: nil, fastPath: false)
        #expect(a == b)
        // An export holds no null: every deployment and command goes the fast way.
        let bulky = try original.deployments().count + (original.call("DescribeCommands")["Commands"] as! [Any]).count
        #expect(a.fast == bulky && b.fast == 0, "\(a.fast) of \(bulky)")
        #expect(try fast.dump() == slow.dump())
        #expect(try TransferTests.answers(fast) == TransferTests.answers(slow))
        // Imported again: every record equal, skipped alike.
        #expect(try fast.store.importFiles(files, progress: nil, fastPath: true) == slow.store.importFiles(files, progress: nil, fastPath: false))
    }

    @Test("The fast path's edge cases: escapes, non-ASCII text, nulls, odd numbers, repeated and unknown members; accepted or refused exactly as through jansson")
    func fastPathEdgeCases() throws {
        let stack = "38ee91e2-abdc-4208-a107-0b7168b3cc7a", box = "8c2673b9-3fe5-420d-9cfa-78d875ee7687"
        func id(_ prefix: String, _ n: Int) -> String {
            let digits = String(n)
            return prefix + String(repeating: "0", count: 12 - digits.count) + digits
        }
        func deployment(_ n: Int, _ members: String) -> String {
            #"{"DeploymentId": "\#(id("00000000-0000-4000-8000-", n))", "StackId": "\#(stack)", "CreatedAt": "2013-07-01T00:00:00+00:00", \#(members)}"#
        }
        func command(_ n: Int, _ d: Int, _ members: String) -> String {
            #"{"CommandId": "\#(id("00000000-0000-4000-9000-", n))", "DeploymentId": "\#(id("00000000-0000-4000-8000-", d))", "InstanceId": "\#(box)", "CreatedAt": "2013-07-01T00:00:01Z", \#(members)}"#
        }
        let good = [
            deployment(1, #""Status": "successful", "CompletedAt": "2013-07-01T00:01:00+00:00", "Duration": 60, "Command": {"Name": "deploy", "Args": {"migrate": ["true"], "b": []}}, "Comment": "quote \" slash \\ \/ tab \t nl \n \u00e9\u20ac \ud83d\ude00 raw é €", "CustomJson": "{\"a\": [1, 2, {\"b\": null}]}", "InstanceIds": ["\#(box)"], "IamUserArn": "arn:aws:iam::1:user/x""#),
            deployment(2, #""Status": "running", "Command": {"Name": "configure"}, "AppId": null, "InstanceIds": []"#),
            deployment(3, #""Status": "failed", "CompletedAt": "2013-07-01T01:00:00-01:00", "Command": {"Name": "execute_recipes", "Args": {}}"#),
            deployment(4, "\n\t \"Status\" : \"successful\" ,\r\n \"CompletedAt\":\"2013-07-01T00:00:00Z\",\"Duration\":-0,\"Command\":{\"Name\":\"update_custom_cookbooks\"}  "),
        ]
        let goodCommands = [
            command(1, 1, #""Status": "successful", "ExitCode": 0, "Type": "deploy", "CompletedAt": "2013-07-01T00:00:59+00:00", "AcknowledgedAt": "2013-07-01T00:00:02+00:00", "LogUrl": "https://example.com/log?x=1&y=\u0032""#),
            command(2, 2, #""Status": "pending", "Type": "configure""#),
            command(3, 3, #""Status": "failed", "ExitCode": -2147483648, "Type": "execute_recipes""#),
            command(4, 3, #""Status": "failed", "ExitCode": 9223372036854775807, "Type": "execute_recipes", "LogUrl": null"#),
        ]
        let parents = try TransferTests.parents(TransferTests.dir())
        func files(_ deployments: [String], _ commands: [String]) throws -> [String] {
            let dir = TransferTests.dir()
            try ("{\"Deployments\": [" + deployments.joined(separator: ",\n") + "]}").write(toFile: dir + "/d.json", atomically: true, encoding: .utf8)
            try ("{\"Commands\": [" + commands.joined(separator: ",\n") + "]}").write(toFile: dir + "/c.json", atomically: true, encoding: .utf8)
            return parents + [dir + "/d.json", dir + "/c.json"]
        }
        let paths = try files(good, goodCommands)
        let fast = try Fixture(), slow = try Fixture()
        let viaFast = try fast.store.importFiles(paths, progress: nil, fastPath: true)
        #expect(viaFast == (try slow.store.importFiles(paths, progress: nil, fastPath: false)))
        // Only the nulls (AppId, LogUrl) send a good record the jansson way.
        #expect(viaFast.fast == 6, "\(viaFast.fast) of \(viaFast.added) records read by the fast path")
        #expect(try fast.dump() == slow.dump())
        #expect(try TransferTests.answers(fast) == TransferTests.answers(slow))
        let comment = try fast.deployments().first { ($0["DeploymentId"] as! String).hasSuffix("000000000001") }?["Comment"] as? String
        #expect(comment == "quote \" slash \\ / tab \t nl \n é€ 😀 raw é €")

        // Each refused alike, with the same message, and the stores unchanged.
        let bad: [([String], [String])] = [
            ([deployment(9, #""Status": "successful", "Status": "failed", "Command": {"Name": "deploy"}"#)], []),
            ([deployment(9, #""Status": "running", "Command": {"Name": "deploy"}, "Colour": "red""#)], []),
            ([deployment(9, #""Status": "running", "Command": {"Name": "deploy", "Args": {"a": ["1"], "a": ["2"]}}"#)], []),
            ([deployment(9, #""Status": "running", "Command": {"Name": "nope"}"#)], []),
            ([deployment(9, #""Status": "successful", "CompletedAt": "2013-07-01T00:00:05Z", "Duration": 5.0, "Command": {"Name": "deploy"}"#)], []),
            ([deployment(9, #""Status": "successful", "CompletedAt": "2013-07-01T00:00:05Z", "Duration": 4, "Command": {"Name": "deploy"}"#)], []),
            ([deployment(9, #""Status": "running", "Command": {"Name": "deploy"}, "Comment": "nul \u0000 inside""#)], []),
            ([deployment(9, #""Status": "running", "Command": {"Name": "deploy"}, "Comment": "lone \udc00""#)], []),
            ([deployment(9, #""Status": "running", "Command": {"Name": "deploy"}, "StackId": "\#(stack)""#)], []),
            ([deployment(9, #""Status": "running", "Command": {"Name": "deploy"}, "AppId": "3a21cfac-4a1f-4ce2-a921-b2cfba6f7771""#)], []),
            ([deployment(9, #""Status": "running", "Command": {"Name": "deploy"}, "InstanceIds": [1]"#)], []),
            (good, [command(9, 1, #""Status": "successful", "ExitCode": 01, "Type": "deploy""#)]),
            (good, [command(9, 1, #""Status": "successful", "ExitCode": 99999999999999999999, "Type": "deploy""#)]),
            (good, [command(9, 77, #""Status": "successful", "Type": "deploy""#)]),
            (good, [command(1, 1, #""Status": "failed", "ExitCode": 0, "Type": "deploy", "CompletedAt": "2013-07-01T00:00:59+00:00", "AcknowledgedAt": "2013-07-01T00:00:02+00:00""#)]),
        ]
        for (d, c) in bad {
            let p = try files(d, c)
            let before = try fast.dump()
            var messages: [String] = []
            for path in [true, false] {
                do {
                    _ = try (path ? fast : slow).store.importFiles(p, progress: nil, fastPath: path)
                    Issue.record("accepted: \(d.last ?? "") \(c)")
                } catch let e as OwdError {
                    messages.append(e.message)
                }
            }
            #expect(messages.count == 2 && messages[0] == messages[1], "\(messages)")
            #expect(messages.first?.contains("d.json") == true || messages.first?.contains("c.json") == true, "\(messages)")
            #expect(try fast.dump() == before)
            #expect(try fast.dump() == slow.dump())
        }
    }

    @Test("Timestamps: +00:00, Z and other offsets read; fractions of a second and other text refused")
    func timestamps() {
        #expect(Timestamp.parse("2013-07-25T18:57:34+00:00") == exampleTime)
        #expect(Timestamp.parse("2013-07-25T18:57:34Z") == exampleTime)
        #expect(Timestamp.parse("2013-07-25T20:57:34+02:00") == exampleTime)
        #expect(Timestamp.parse("2013-07-25T18:57:34.5Z") == nil)
        #expect(Timestamp.parse("2013-13-25T18:57:34Z") == nil)
        #expect(Timestamp.parse("yesterday") == nil)
        for t in [Int64(0), 951_782_400, exampleTime, 4_102_444_799] { #expect(Timestamp.parse(Timestamp.string(t)) == t) }
    }
}

/// A seeded generator (SplitMix64): the same store for the same seed.
struct SplitMix {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

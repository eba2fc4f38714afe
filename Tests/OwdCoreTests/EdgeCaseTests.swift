import Foundation
@testable import OwdCore
import Testing

/// Readings of the contract at its edges, each decided here and tested as such.
@Suite("Contract edges")
struct EdgeCaseTests {
    @Test("A null entry of Command.Args is absent, like a null member")
    func nullArgIsAbsent() throws {
        let f = try Fixture()
        let stack = try f.stack()
        _ = try f.instance(stack, layers: [try f.layer(stack)])
        let id = try f.call("CreateDeployment", ["StackId": stack,
            "Command": ["Name": "configure", "Args": ["gone": NSNull(), "kept": ["x"]]]])["DeploymentId"] as! String
        let d = try f.deployments(["DeploymentIds": [id]])[0]
        #expect((d["Command"] as! [String: Any])["Args"] as? [String: [String]] == ["kept": ["x"]])
    }

    @Test("CustomJson holding \\u0000 is a JSON object: stored and returned exactly")
    func customJsonWithEscapedNul() throws {
        let f = try Fixture()
        let stack = try f.stack()
        _ = try f.instance(stack, layers: [try f.layer(stack)])
        let custom = #"{"k": "a\u0000b"}"#
        let id = try f.deploy(stack, command: "configure", extra: ["CustomJson": custom])
        #expect(try f.deployments(["DeploymentIds": [id]])[0]["CustomJson"] as? String == custom)
    }

    @Test("Two handles opening the same new file at once make one store")
    func concurrentCreation() throws {
        let path = sharedStorePath()
        let results = UnsafeMutablePointer<Result<Store, Error>?>.allocate(capacity: 4)
        results.initialize(repeating: nil, count: 4)
        defer { results.deinitialize(count: 4); results.deallocate() }   // releases the stores (ASan: leaked)
        DispatchQueue.concurrentPerform(iterations: 4) { i in
            results[i] = Result { try Store(path: path) }
        }
        let stores = try (0..<4).map { try results[$0]!.get() }
        let stack = try Fixture(store: stores[0], clock: TestClock(exampleTime)).stack()
        for s in stores {
            #expect(try Fixture(store: s, clock: TestClock(exampleTime)).call("DescribeStacks")["Stacks"] as? [[String: Any]] != nil)
        }
        let seen = try Fixture(store: stores[3], clock: TestClock(exampleTime)).call("DescribeStacks", ["StackIds": [stack]])
        #expect((seen["Stacks"] as! [[String: Any]]).count == 1)
    }
}

/// IDs are parsed into 128-bit keys for the cache: only the canonical lowercase form of a
/// UUID is an ID owd made; anything else is simply not found.
@Suite("ID keys")
struct IDKeyTests {
    @Test("A canonical lowercase UUID round-trips through its key")
    func roundTrip() {
        for _ in 0..<100 {
            let id = UUIDKey.random().string
            #expect(UUIDKey(id)?.string == id)
            #expect(UUID(uuidString: id) != nil)
        }
        #expect(UUIDKey("6ed0df4c-9ef7-4812-8dac-d54a05be1029")?.string == "6ed0df4c-9ef7-4812-8dac-d54a05be1029")
    }

    @Test("Upper case, wrong dashes, wrong length and non-hex text are no key", arguments: [
        "6ED0DF4C-9EF7-4812-8DAC-D54A05BE1029", "6ed0df4c9ef7-4812-8dac-d54a05be1029-", "6ed0df4c-9ef7-4812-8dac-d54a05be102",
        "6ed0df4c-9ef7-4812-8dac-d54a05be10299", "6ed0df4g-9ef7-4812-8dac-d54a05be1029", "", "6ed0df4c 9ef7 4812 8dac d54a05be1029",
        "6ed0df4c-9ef7-4812-8dac-d54a05be10\u{e9}",
    ])
    func refused(_ text: String) {
        #expect(UUIDKey(text) == nil)
    }

    @Test("Generated IDs are version 4, variant 10")
    func versionAndVariant() {
        let id = Array(UUIDKey.random().string)
        #expect(id[14] == "4")
        #expect("89ab".contains(id[19]))
    }
}

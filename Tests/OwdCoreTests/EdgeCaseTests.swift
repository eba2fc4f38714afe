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
        let path = temporaryPath()
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

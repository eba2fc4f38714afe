import Foundation
@testable import OwdCore
import Testing

/// behaviour.md section 3: DescribeDeployments.
@Suite("DescribeDeployments (section 3)")
struct DescribeDeploymentsTests {
    static let atMostOne = "Please provide either one or more deployment IDs or one stack ID or one app ID"

    /// Two stacks; stack A has an app, two online instances and three deployments (one a
    /// stack command), stack B one deployment.
    struct World {
        let f: Fixture
        let stackA: String, stackB: String, app: String, otherApp: String
        let i1: String, i2: String
        let dApp1: String, dStack: String, dApp2: String, dOtherApp: String, dB: String
    }

    static func world(path: String? = nil) throws -> World {
        let f = try Fixture(path: path)
        let a = try f.stack("a"), b = try f.stack("b")
        let layerA = try f.layer(a), layerB = try f.layer(b)
        let app = try f.app(a), otherApp = try f.app(a, "other")
        let i1 = try f.instance(a, layers: [layerA]), i2 = try f.instance(a, layers: [layerA])
        _ = try f.instance(b, layers: [layerB])
        let dApp1 = try f.deploy(a, app: app)
        f.clock.advance(1)
        let dStack = try f.deploy(a, command: "configure")
        f.clock.advance(1)
        let dB = try f.deploy(b, command: "setup")
        f.clock.advance(1)
        let dApp2 = try f.deploy(a, app: app, command: "restart")
        f.clock.advance(1)
        let dOtherApp = try f.deploy(a, app: otherApp)
        return World(f: f, stackA: a, stackB: b, app: app, otherApp: otherApp, i1: i1, i2: i2,
                     dApp1: dApp1, dStack: dStack, dApp2: dApp2, dOtherApp: dOtherApp, dB: dB)
    }

    static func ids(_ ds: [[String: Any]]) -> [String] { ds.map { $0["DeploymentId"] as! String } }

    @Test("DescribeDeployments: no parameter describes every deployment, newest first")
    func noParameter() throws {
        let w = try Self.world()
        #expect(Self.ids(try w.f.deployments()) == [w.dOtherApp, w.dApp2, w.dB, w.dStack, w.dApp1])
    }

    @Test("DescribeDeployments: StackId alone describes that stack's deployments, newest first")
    func stackAlone() throws {
        let w = try Self.world()
        #expect(Self.ids(try w.f.deployments(["StackId": w.stackA])) == [w.dOtherApp, w.dApp2, w.dStack, w.dApp1])
        #expect(Self.ids(try w.f.deployments(["StackId": w.stackB])) == [w.dB])
    }

    @Test("DescribeDeployments: AppId alone describes that app's deployments, newest first")
    func appAlone() throws {
        let w = try Self.world()
        #expect(Self.ids(try w.f.deployments(["AppId": w.app])) == [w.dApp2, w.dApp1])
        #expect(Self.ids(try w.f.deployments(["AppId": w.otherApp])) == [w.dOtherApp])
    }

    @Test("DescribeDeployments: DeploymentIds alone describes those deployments, newest first whatever the request order")
    func idsAlone() throws {
        let w = try Self.world()
        #expect(Self.ids(try w.f.deployments(["DeploymentIds": [w.dApp1, w.dB, w.dApp2]])) == [w.dApp2, w.dB, w.dApp1])
        #expect(Self.ids(try w.f.deployments(["DeploymentIds": [w.dStack]])) == [w.dStack])
    }

    static let pairs: [[String]] = [["StackId", "AppId"], ["StackId", "DeploymentIds"], ["AppId", "DeploymentIds"],
                                    ["StackId", "AppId", "DeploymentIds"]]

    @Test("DescribeDeployments: two or three parameters is a ValidationException with the contract's message",
          arguments: pairs, [false, true])
    func twoOrThree(_ names: [String], emptyList: Bool) throws {
        let w = try Self.world()
        var req: [String: Any] = [:]
        for n in names {
            switch n {
            case "StackId": req[n] = w.stackA
            case "AppId": req[n] = w.app
            default: req[n] = emptyList ? [] : [w.dApp1]
            }
        }
        let before = try w.f.dump()
        w.f.expectError("DescribeDeployments", req, "ValidationException", Self.atMostOne)
        #expect(try w.f.dump() == before)
    }

    @Test("DescribeDeployments: the at-most-one rule comes before unknown IDs")
    func atMostOneBeforeNotFound() throws {
        let f = try Fixture()
        f.expectError("DescribeDeployments", ["StackId": unknownID(), "AppId": unknownID()],
                      "ValidationException", Self.atMostOne)
        f.expectError("DescribeDeployments", ["AppId": unknownID(), "DeploymentIds": [unknownID()]],
                      "ValidationException", Self.atMostOne)
    }

    @Test("DescribeDeployments: an empty DeploymentIds list returns {\"Deployments\": []}")
    func emptyList() throws {
        let w = try Self.world()
        let r = try w.f.call("DescribeDeployments", ["DeploymentIds": []])
        #expect(r.count == 1)
        #expect((r["Deployments"] as? [Any])?.isEmpty == true)
    }

    @Test("DescribeDeployments: a store or stack without deployments answers an empty list")
    func nothingYet() throws {
        let f = try Fixture()
        #expect(try f.deployments().isEmpty)
        let s = try f.stack()
        #expect(try f.deployments(["StackId": s]).isEmpty)
        let a = try f.app(s)
        #expect(try f.deployments(["AppId": a]).isEmpty)
    }

    @Test("DescribeDeployments: unknown StackId is ResourceNotFoundException 'Unable to find stack with ID <id>'")
    func unknownStack() throws {
        let f = try Fixture()
        _ = try f.stack()
        let id = unknownID()
        f.expectError("DescribeDeployments", ["StackId": id], "ResourceNotFoundException", "Unable to find stack with ID \(id)")
        f.expectError("DescribeDeployments", ["StackId": "not-an-id"], "ResourceNotFoundException", "Unable to find stack with ID not-an-id")
    }

    @Test("DescribeDeployments: unknown AppId is ResourceNotFoundException 'Unable to find app with ID <id>'")
    func unknownApp() throws {
        let f = try Fixture()
        let s = try f.stack()
        let id = unknownID()
        f.expectError("DescribeDeployments", ["AppId": id], "ResourceNotFoundException", "Unable to find app with ID \(id)")
        // A stack's ID is not an app's.
        f.expectError("DescribeDeployments", ["AppId": s], "ResourceNotFoundException", "Unable to find app with ID \(s)")
    }

    @Test("DescribeDeployments: one unknown DeploymentId fails the whole call, naming the first unknown ID in request order")
    func unknownDeploymentID() throws {
        let w = try Self.world()
        let bad1 = unknownID(), bad2 = unknownID()
        w.f.expectError("DescribeDeployments", ["DeploymentIds": [w.dApp1, bad1, w.dB, bad2]],
                        "ResourceNotFoundException", "Unable to find deployment with ID \(bad1)")
        w.f.expectError("DescribeDeployments", ["DeploymentIds": [bad2, bad1]],
                        "ResourceNotFoundException", "Unable to find deployment with ID \(bad2)")
        // IDs are lowercase: the uppercase spelling of a real ID is not that deployment.
        let upper = w.dApp1.uppercased()
        w.f.expectError("DescribeDeployments", ["DeploymentIds": [upper]],
                        "ResourceNotFoundException", "Unable to find deployment with ID \(upper)")
        // Another resource's ID is not a deployment's.
        w.f.expectError("DescribeDeployments", ["DeploymentIds": [w.stackA]],
                        "ResourceNotFoundException", "Unable to find deployment with ID \(w.stackA)")
    }

    @Test("DescribeDeployments: an ID listed twice is described once")
    func duplicates() throws {
        let w = try Self.world()
        let got = Self.ids(try w.f.deployments(["DeploymentIds": [w.dApp1, w.dB, w.dApp1, w.dApp1, w.dB]]))
        #expect(got == [w.dB, w.dApp1])
    }

    @Test("DescribeDeployments: deployments created in the same second are ordered newest creation first, in all four forms")
    func sameSecond() throws {
        let f = try Fixture()
        let s = try f.stack()
        let app = try f.app(s)
        _ = try f.instance(s, layers: [try f.layer(s)])
        let d1 = try f.deploy(s, app: app)
        let d2 = try f.deploy(s, app: app)
        let d3 = try f.deploy(s, app: app)
        f.clock.advance(1)
        let d4 = try f.deploy(s, app: app)
        let d5 = try f.deploy(s, app: app)
        let expected = [d5, d4, d3, d2, d1]
        #expect(Self.ids(try f.deployments()) == expected)
        #expect(Self.ids(try f.deployments(["StackId": s])) == expected)
        #expect(Self.ids(try f.deployments(["AppId": app])) == expected)
        #expect(Self.ids(try f.deployments(["DeploymentIds": [d2, d4, d1, d5, d3]])) == expected)
        // Finishing some does not move them.
        try f.finish(d2)
        try f.finish(d4)
        #expect(Self.ids(try f.deployments(["StackId": s])) == expected)
        #expect(Self.ids(try f.deployments(["AppId": app])) == expected)
        #expect(Self.ids(try f.deployments()) == expected)
    }

    @Test("DescribeDeployments: order is by CreatedAt, newest first, even when the clock went back")
    func orderByCreatedAt() throws {
        let f = try Fixture()
        let s = try f.stack()
        _ = try f.instance(s, layers: [try f.layer(s)])
        let late = try f.deploy(s, command: "configure")
        f.clock.advance(-100)
        let early = try f.deploy(s, command: "configure")
        f.clock.advance(50)
        let middle = try f.deploy(s, command: "configure")
        let expected = [late, middle, early]
        #expect(Self.ids(try f.deployments()) == expected)
        #expect(Self.ids(try f.deployments(["StackId": s])) == expected)
        #expect(Self.ids(try f.deployments(["DeploymentIds": [early, late, middle]])) == expected)
    }

    @Test("DescribeDeployments: ordering holds in a store file, after reopening it")
    func orderingInFile() throws {
        let path = sharedStorePath()
        let w = try Self.world(path: path)
        let expected = [w.dOtherApp, w.dApp2, w.dB, w.dStack, w.dApp1]
        #expect(Self.ids(try w.f.deployments()) == expected)
        let again = try Fixture(path: path)
        #expect(Self.ids(try again.deployments()) == expected)
        #expect(Self.ids(try again.deployments(["AppId": w.app])) == [w.dApp2, w.dApp1])
    }

    @Test("DescribeDeployments: a deployment is visible as soon as CreateDeployment returns, to another handle on the store file")
    func visibleAcrossHandles() throws {
        let path = sharedStorePath()
        let writer = try Fixture(path: path)
        let reader = try Fixture(path: path)
        let s = try writer.stack()
        _ = try writer.instance(s, layers: [try writer.layer(s)])
        #expect(try reader.deployments().isEmpty)
        let d = try writer.deploy(s, command: "setup")
        #expect(Self.ids(try reader.deployments(["StackId": s])) == [d])
        try writer.finish(d)
        #expect(try reader.deployments(["DeploymentIds": [d]])[0]["Status"] as? String == "successful")
    }

    @Test("DescribeDeployments: a running deployment has no CompletedAt or Duration; a stack command has no AppId")
    func runningMembers() throws {
        let w = try Self.world()
        let d = try w.f.deployments(["DeploymentIds": [w.dStack]])[0]
        #expect(Set(d.keys) == ["DeploymentId", "StackId", "CreatedAt", "Command", "Status", "InstanceIds"])
        #expect(d["Status"] as? String == "running")
        #expect(d["StackId"] as? String == w.stackA)
        #expect(d["InstanceIds"] as? [String] == [w.i1, w.i2])
        let app = try w.f.deployments(["DeploymentIds": [w.dApp1]])[0]
        #expect(app["AppId"] as? String == w.app)
    }

    @Test("DescribeDeployments: Comment and CustomJson are returned exactly as given, and only when given")
    func commentAndCustomJson() throws {
        let f = try Fixture()
        let s = try f.stack()
        _ = try f.instance(s, layers: [try f.layer(s)])
        let custom = "{ \"deploy\" : {\"x\": [1, 2.50, \"\\u00e9\"]} ,\n\"k\":null }"
        let comment = "  déploiement\tn°1  "
        let d = try f.deploy(s, command: "configure", extra: ["Comment": comment, "CustomJson": custom])
        let got = try f.deployments(["DeploymentIds": [d]])[0]
        #expect(got["Comment"] as? String == comment)
        #expect(got["CustomJson"] as? String == custom)
        let plain = try f.deploy(s, command: "configure")
        let p = try f.deployments(["DeploymentIds": [plain]])[0]
        #expect(p["Comment"] == nil && p["CustomJson"] == nil && p["IamUserArn"] == nil)
    }

    @Test("DescribeDeployments: IamUserArn is the ARN of an identified creator and absent for the embedding program")
    func iamUserArn() throws {
        let f = try Fixture()
        let arn = "arn:aws:iam::123456789012:user/alice"
        let alice = f.as(arn)
        let s = try alice.stack()   // the creator manages it
        _ = try alice.instance(s, layers: [try alice.layer(s)])
        let d = try alice.deploy(s, command: "setup")
        #expect(try alice.deployments(["DeploymentIds": [d]])[0]["IamUserArn"] as? String == arn)
        let e = try f.deploy(s, command: "setup")
        #expect(try f.deployments(["DeploymentIds": [e]])[0]["IamUserArn"] == nil)
    }

    @Test("DescribeDeployments: an unknown ID is reported before a refusal; an existing ID the caller may not see is refused, never not found")
    func permissionsOrder() throws {
        let f = try Fixture()
        let s = try f.stack(region: "eu-west-1")
        _ = try f.instance(s, layers: [try f.layer(s)])
        let d = try f.deploy(s, command: "setup")
        let arn = "arn:aws:iam::210987654321:user/bob"
        let bob = f.as(arn)
        let bad = unknownID()
        bob.expectError("DescribeDeployments", ["DeploymentIds": [d, bad]], "ResourceNotFoundException",
                        "Unable to find deployment with ID \(bad)")
        let refusal = "User: \(arn) is not authorized to perform: opsworks:DescribeDeployments on resource: arn:aws:opsworks:eu-west-1:210987654321:stack/\(s)/"
        bob.expectError("DescribeDeployments", ["DeploymentIds": [d]], "AccessDeniedException", refusal)
        bob.expectError("DescribeDeployments", ["StackId": s], "AccessDeniedException", refusal)
        // No parameter: only what the caller may see, without error.
        #expect(try bob.deployments().isEmpty)
        #expect(Self.ids(try f.deployments()) == [d])
    }

    @Test("DescribeDeployments: AWS's example deployment is reproduced member for member with fixed times")
    func awsExample() throws {
        let f = try Fixture(time: exampleTime)   // 2013-07-25T18:57:34+00:00
        let s = try f.stack()
        let layer = try f.layer(s)
        let app = try f.app(s)
        let i1 = try f.instance(s, layers: [layer])
        let i2 = try f.instance(s, layers: [layer])
        let d = try f.deploy(s, app: app, command: "undeploy")
        let cs = try f.commandIDs(d)
        f.clock.advance(9)
        try f.complete(cs[0])
        f.clock.advance(6)   // 18:57:49
        try f.complete(cs[1])
        let got = try f.deployments(["StackId": s])
        #expect(got.count == 1)
        let expected: [String: Any] = [
            "DeploymentId": d, "StackId": s, "AppId": app,
            "CreatedAt": "2013-07-25T18:57:34+00:00", "CompletedAt": "2013-07-25T18:57:49+00:00",
            "Duration": 15, "Command": ["Name": "undeploy", "Args": [String: Any]()], "Status": "successful",
            "InstanceIds": [i1, i2],
        ]
        #expect(canonical(got[0]) == canonical(expected))
        #expect(got[0]["Duration"] as? Int == 15)
        #expect(isLowercaseV4UUID(d))
    }

    @Test("DescribeDeployments: a finished deployment shows its new status in all four forms")
    func finishedInEveryForm() throws {
        let w = try Self.world()
        try w.f.finish(w.dApp1, "failed")
        for req: [String: Any] in [[:], ["StackId": w.stackA], ["AppId": w.app], ["DeploymentIds": [w.dApp1]]] {
            let d = try w.f.deployments(req).first { $0["DeploymentId"] as? String == w.dApp1 }
            #expect(d?["Status"] as? String == "failed", "\(req)")
            #expect(d?["Duration"] as? Int == 4, "\(req)")
        }
    }
}

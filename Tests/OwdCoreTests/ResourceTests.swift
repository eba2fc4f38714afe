import Foundation
@testable import OwdCore
import Testing

/// behaviour.md section 6: stacks, layers, apps, instances.
@Suite("Stacks, layers, apps, instances (section 6)")
struct ResourceTests {
    /// Two stacks; s1 has layers l1, l2, apps a1, a2, instances i1 (l1), i2 (l1, l2), i3 (l2);
    /// s2 has layer l3, app a3, instance i4. Created oldest first in that order, one second apart.
    struct World {
        let f: Fixture
        let s1: String, s2: String
        let l1: String, l2: String, l3: String
        let a1: String, a2: String, a3: String
        let i1: String, i2: String, i3: String, i4: String
    }

    static func world() throws -> World {
        let f = try Fixture()
        func tick<T>(_ v: T) -> T { f.clock.advance(1); return v }
        let s1 = tick(try f.stack("one")), s2 = tick(try f.stack("two"))
        let l1 = tick(try f.layer(s1, "l1")), l2 = tick(try f.layer(s1, "l2")), l3 = tick(try f.layer(s2, "l3"))
        let a1 = tick(try f.app(s1, "a1")), a2 = tick(try f.app(s1, "a2")), a3 = tick(try f.app(s2, "a3"))
        let i1 = tick(try f.instance(s1, layers: [l1], online: false))
        let i2 = tick(try f.instance(s1, layers: [l1, l2], online: false))
        let i3 = tick(try f.instance(s1, layers: [l2], online: false))
        let i4 = tick(try f.instance(s2, layers: [l3], online: false))
        return World(f: f, s1: s1, s2: s2, l1: l1, l2: l2, l3: l3, a1: a1, a2: a2, a3: a3, i1: i1, i2: i2, i3: i3, i4: i4)
    }

    static func ids(_ f: Fixture, _ op: String, _ list: String, _ id: String, _ req: [String: Any]) throws -> [String] {
        (try f.call(op, req)[list] as! [[String: Any]]).map { $0[id] as! String }
    }

    func stacks(_ w: World, _ req: [String: Any]) throws -> [String] { try Self.ids(w.f, "DescribeStacks", "Stacks", "StackId", req) }
    func layers(_ w: World, _ req: [String: Any]) throws -> [String] { try Self.ids(w.f, "DescribeLayers", "Layers", "LayerId", req) }
    func apps(_ w: World, _ req: [String: Any]) throws -> [String] { try Self.ids(w.f, "DescribeApps", "Apps", "AppId", req) }
    func instances(_ w: World, _ req: [String: Any]) throws -> [String] {
        try Self.ids(w.f, "DescribeInstances", "Instances", "InstanceId", req)
    }

    // MARK: DescribeStacks

    @Test("DescribeStacks: no parameter describes every stack, oldest first")
    func stacksNone() throws {
        let w = try Self.world()
        #expect(try stacks(w, [:]) == [w.s1, w.s2])
    }

    @Test("DescribeStacks: StackIds describes those stacks in creation order, each once; an empty list describes none")
    func stacksIDs() throws {
        let w = try Self.world()
        #expect(try stacks(w, ["StackIds": [w.s2, w.s1, w.s2]]) == [w.s1, w.s2])
        #expect(try stacks(w, ["StackIds": [w.s2]]) == [w.s2])
        let r = try w.f.call("DescribeStacks", ["StackIds": []])
        #expect(r.count == 1 && (r["Stacks"] as? [Any])?.isEmpty == true)
    }

    @Test("DescribeStacks: an unknown StackIds entry is ResourceNotFoundException naming the first unknown")
    func stacksUnknown() throws {
        let w = try Self.world()
        let x = unknownID(), y = unknownID()
        w.f.expectError("DescribeStacks", ["StackIds": [w.s1, x, y]], "ResourceNotFoundException", "Unable to find stack with ID \(x)")
        w.f.expectError("DescribeStacks", ["StackIds": [w.l1]], "ResourceNotFoundException", "Unable to find stack with ID \(w.l1)")
    }

    // MARK: DescribeLayers

    static let layersMessage = "Please provide one or more layer IDs or a stack ID"

    @Test("DescribeLayers: no parameter, StackId alone, LayerIds alone; oldest first, duplicates once")
    func layersForms() throws {
        let w = try Self.world()
        #expect(try layers(w, [:]) == [w.l1, w.l2, w.l3])
        #expect(try layers(w, ["StackId": w.s1]) == [w.l1, w.l2])
        #expect(try layers(w, ["StackId": w.s2]) == [w.l3])
        #expect(try layers(w, ["LayerIds": [w.l3, w.l1, w.l3]]) == [w.l1, w.l3])
        #expect(try layers(w, ["LayerIds": []]).isEmpty)
    }

    @Test("DescribeLayers: StackId with LayerIds (even an empty list) is a ValidationException with the contract's message")
    func layersBoth() throws {
        let w = try Self.world()
        w.f.expectError("DescribeLayers", ["StackId": w.s1, "LayerIds": [w.l1]], "ValidationException", Self.layersMessage)
        w.f.expectError("DescribeLayers", ["StackId": w.s1, "LayerIds": []], "ValidationException", Self.layersMessage)
        w.f.expectError("DescribeLayers", ["StackId": unknownID(), "LayerIds": [unknownID()]], "ValidationException", Self.layersMessage)
    }

    @Test("DescribeLayers: unknown StackId or LayerIds entry is ResourceNotFoundException with the contract's message")
    func layersUnknown() throws {
        let w = try Self.world()
        let x = unknownID(), y = unknownID()
        w.f.expectError("DescribeLayers", ["StackId": x], "ResourceNotFoundException", "Unable to find stack with ID \(x)")
        w.f.expectError("DescribeLayers", ["LayerIds": [w.l1, x, y]], "ResourceNotFoundException", "Unable to find layer with ID \(x)")
    }

    // MARK: DescribeApps

    static let appsMessage = "Please provide one or more app IDs or a stack ID"

    @Test("DescribeApps: no parameter, StackId alone, AppIds alone; oldest first, duplicates once")
    func appsForms() throws {
        let w = try Self.world()
        #expect(try apps(w, [:]) == [w.a1, w.a2, w.a3])
        #expect(try apps(w, ["StackId": w.s1]) == [w.a1, w.a2])
        #expect(try apps(w, ["AppIds": [w.a3, w.a2, w.a3]]) == [w.a2, w.a3])
        #expect(try apps(w, ["AppIds": []]).isEmpty)
    }

    @Test("DescribeApps: StackId with AppIds (even an empty list) is a ValidationException with the contract's message")
    func appsBoth() throws {
        let w = try Self.world()
        w.f.expectError("DescribeApps", ["StackId": w.s1, "AppIds": [w.a1]], "ValidationException", Self.appsMessage)
        w.f.expectError("DescribeApps", ["StackId": w.s1, "AppIds": []], "ValidationException", Self.appsMessage)
    }

    @Test("DescribeApps: unknown StackId or AppIds entry is ResourceNotFoundException with the contract's message")
    func appsUnknown() throws {
        let w = try Self.world()
        let x = unknownID()
        w.f.expectError("DescribeApps", ["StackId": x], "ResourceNotFoundException", "Unable to find stack with ID \(x)")
        w.f.expectError("DescribeApps", ["AppIds": [w.a1, x]], "ResourceNotFoundException", "Unable to find app with ID \(x)")
    }

    // MARK: DescribeInstances

    static let instancesMessage = "Please provide either one or more instance IDs or one stack ID or one layer ID"

    @Test("DescribeInstances: no parameter, StackId alone, LayerId alone, InstanceIds alone; oldest first, duplicates once")
    func instancesForms() throws {
        let w = try Self.world()
        #expect(try instances(w, [:]) == [w.i1, w.i2, w.i3, w.i4])
        #expect(try instances(w, ["StackId": w.s1]) == [w.i1, w.i2, w.i3])
        #expect(try instances(w, ["LayerId": w.l1]) == [w.i1, w.i2])
        #expect(try instances(w, ["LayerId": w.l2]) == [w.i2, w.i3])
        #expect(try instances(w, ["LayerId": w.l3]) == [w.i4])
        #expect(try instances(w, ["InstanceIds": [w.i4, w.i1, w.i4]]) == [w.i1, w.i4])
        #expect(try instances(w, ["InstanceIds": []]).isEmpty)
    }

    static let instancePairs: [[String]] = [["StackId", "LayerId"], ["StackId", "InstanceIds"], ["LayerId", "InstanceIds"],
                                            ["StackId", "LayerId", "InstanceIds"]]

    @Test("DescribeInstances: two or three parameters is a ValidationException with the contract's message",
          arguments: instancePairs, [false, true])
    func instancesTwo(_ names: [String], emptyList: Bool) throws {
        let w = try Self.world()
        var req: [String: Any] = [:]
        for n in names {
            switch n {
            case "StackId": req[n] = w.s1
            case "LayerId": req[n] = w.l1
            default: req[n] = emptyList ? [] : [w.i1]
            }
        }
        w.f.expectError("DescribeInstances", req, "ValidationException", Self.instancesMessage)
    }

    @Test("DescribeInstances: unknown StackId, LayerId or InstanceIds entry is ResourceNotFoundException with the contract's message")
    func instancesUnknown() throws {
        let w = try Self.world()
        let x = unknownID()
        w.f.expectError("DescribeInstances", ["StackId": x], "ResourceNotFoundException", "Unable to find stack with ID \(x)")
        w.f.expectError("DescribeInstances", ["LayerId": x], "ResourceNotFoundException", "Unable to find layer with ID \(x)")
        w.f.expectError("DescribeInstances", ["InstanceIds": [w.i1, x]], "ResourceNotFoundException", "Unable to find instance with ID \(x)")
    }

    // MARK: Create

    @Test("CreateStack, CreateLayer, CreateApp, CreateInstance: what is given is kept and returned by the describe call")
    func givenIsKept() throws {
        let f = try Fixture()
        let stackReq: [String: Any] = [
            "Name": "prod", "Region": "eu-west-1", "VpcId": "vpc-1",
            "Attributes": ["Color": "blue"], "ServiceRoleArn": "arn:aws:iam::1:role/r",
            "DefaultInstanceProfileArn": "arn:aws:iam::1:instance-profile/p", "DefaultOs": "Amazon Linux 2",
            "UseCustomCookbooks": true, "ConfigurationManager": ["Name": "Chef", "Version": "12"],
            "CustomJson": "{\"a\": 1}",
        ]
        let s = try f.call("CreateStack", stackReq)["StackId"] as! String
        let stack = (try f.call("DescribeStacks", ["StackIds": [s]])["Stacks"] as! [[String: Any]])[0]
        for (k, v) in stackReq { #expect(canonical(stack[k] as Any) == canonical(v), "\(k)") }
        #expect(stack["StackId"] as? String == s)
        #expect(isTimestamp(stack["CreatedAt"] as! String))

        let layerReq: [String: Any] = ["StackId": s, "Type": "custom", "Name": "Web", "Shortname": "web",
                                       "Packages": ["nginx"], "EnableAutoHealing": false,
                                       "CustomRecipes": ["Setup": ["a::b"]]]
        let l = try f.call("CreateLayer", layerReq)["LayerId"] as! String
        let layer = (try f.call("DescribeLayers", ["LayerIds": [l]])["Layers"] as! [[String: Any]])[0]
        for (k, v) in layerReq { #expect(canonical(layer[k] as Any) == canonical(v), "\(k)") }

        let appReq: [String: Any] = ["StackId": s, "Name": "App", "Type": "php", "Shortname": "app",
                                     "AppSource": ["Type": "git", "Url": "https://example.com/r.git"],
                                     "Domains": ["example.com"], "EnableSsl": false,
                                     "Environment": [["Key": "K", "Value": "V", "Secure": false]]]
        let a = try f.call("CreateApp", appReq)["AppId"] as! String
        let app = (try f.call("DescribeApps", ["AppIds": [a]])["Apps"] as! [[String: Any]])[0]
        for (k, v) in appReq { #expect(canonical(app[k] as Any) == canonical(v), "\(k)") }

        let instReq: [String: Any] = ["StackId": s, "LayerIds": [l], "InstanceType": "m5.large", "Hostname": "web1",
                                      "Os": "Ubuntu 18.04 LTS", "Architecture": "x86_64"]
        let i = try f.call("CreateInstance", instReq)["InstanceId"] as! String
        let inst = (try f.call("DescribeInstances", ["InstanceIds": [i]])["Instances"] as! [[String: Any]])[0]
        for (k, v) in instReq { #expect(canonical(inst[k] as Any) == canonical(v), "\(k)") }
    }

    @Test("Create calls: a missing required member is a ValidationException naming it")
    func createRequired() throws {
        let f = try Fixture()
        let before = try f.dump()
        f.expectError("CreateStack", ["Name": "x", "ServiceRoleArn": "r", "DefaultInstanceProfileArn": "p"],
                      "ValidationException", "Missing required parameter in input: \"Region\"")
        let s = try f.stack()
        let after = try f.dump()
        f.expectError("CreateLayer", ["StackId": s, "Type": "custom", "Name": "n"], "ValidationException",
                      "Missing required parameter in input: \"Shortname\"")
        f.expectError("CreateApp", ["StackId": s, "Name": "n"], "ValidationException",
                      "Missing required parameter in input: \"Type\"")
        f.expectError("CreateInstance", ["StackId": s, "InstanceType": "t2.micro"], "ValidationException",
                      "Missing required parameter in input: \"LayerIds\"")
        #expect(before != after)
        #expect(try f.dump() == after)
    }

    @Test("Create calls on an unknown stack are ResourceNotFoundException 'Unable to find stack with ID <id>'")
    func createUnknownStack() throws {
        let f = try Fixture()
        let x = unknownID()
        f.expectError("CreateLayer", ["StackId": x, "Type": "custom", "Name": "n", "Shortname": "n"],
                      "ResourceNotFoundException", "Unable to find stack with ID \(x)")
        f.expectError("CreateApp", ["StackId": x, "Name": "n", "Type": "other"],
                      "ResourceNotFoundException", "Unable to find stack with ID \(x)")
        f.expectError("CreateInstance", ["StackId": x, "LayerIds": [], "InstanceType": "t2.micro"],
                      "ResourceNotFoundException", "Unable to find stack with ID \(x)")
    }

    @Test("CreateInstance: a new instance is stopped; StartInstance makes it online, StopInstance stopped")
    func instanceStatus() throws {
        let w = try Self.world()
        func status() throws -> String? {
            (try w.f.call("DescribeInstances", ["InstanceIds": [w.i1]])["Instances"] as! [[String: Any]])[0]["Status"] as? String
        }
        #expect(try status() == "stopped")
        try w.f.start(w.i1)
        #expect(try status() == "online")
        try w.f.start(w.i1)
        #expect(try status() == "online")
        try w.f.stop(w.i1)
        #expect(try status() == "stopped")
        let x = unknownID()
        w.f.expectError("StartInstance", ["InstanceId": x], "ResourceNotFoundException", "Unable to find instance with ID \(x)")
        w.f.expectError("StopInstance", ["InstanceId": x], "ResourceNotFoundException", "Unable to find instance with ID \(x)")
    }

    @Test("CreateInstance: an unknown layer is ResourceNotFoundException; a layer of another stack is a ValidationException")
    func instanceLayers() throws {
        let w = try Self.world()
        let x = unknownID()
        let before = try w.f.dump()
        w.f.expectError("CreateInstance", ["StackId": w.s1, "LayerIds": [w.l1, x], "InstanceType": "t2.micro"],
                        "ResourceNotFoundException", "Unable to find layer with ID \(x)")
        w.f.expectError("CreateInstance", ["StackId": w.s1, "LayerIds": [w.l1, w.l3], "InstanceType": "t2.micro"],
                        "ValidationException")
        #expect(try w.f.dump() == before)
    }
}

import Foundation
@testable import OwdCore
import Testing

@Test func awsExampleDeployment() throws {
    let f = try Fixture()
    let stack = try f.stack()
    let layer = try f.layer(stack)
    let app = try f.app(stack)
    let i1 = try f.instance(stack, layers: [layer])
    let i2 = try f.instance(stack, layers: [layer])
    let d = try f.deploy(stack, app: app, command: "undeploy")
    f.clock.advance(15)
    try f.finish(d)
    print(try f.text("DescribeDeployments", ["StackId": stack]))
    let got = try f.deployments(["StackId": stack])
    #expect(got.count == 1)
    #expect(got[0]["Duration"] as? Int == 15)
    #expect(got[0]["InstanceIds"] as? [String] == [i1, i2])
}

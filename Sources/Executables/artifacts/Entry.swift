import ArgumentParser
import CLI

@main
extension ArtifactsCommand {}

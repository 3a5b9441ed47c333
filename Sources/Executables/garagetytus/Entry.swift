import ArgumentParser
import CLI

@main
extension GaragetytusCommand {}

"""The pass/fail count every reference check script keeps: ok() records one check (printing the failed
ones, and every one when verbose), report() prints the suite's closing "N passed, N failed" line and
returns the script's exit status."""


class Tally:
    def __init__(self, verbose=False):
        self.passed = 0
        self.failed = 0
        self.verbose = verbose

    def ok(self, cond, what):
        if cond:
            self.passed += 1
            if self.verbose:
                print(f"ok   {what}")
        else:
            self.failed += 1
            print(f"FAIL {what}")
        return cond

    def report(self):
        print(f"{self.passed} passed, {self.failed} failed")
        return 1 if self.failed else 0

"""pycocoevalcap's METEOR 1.5, run so that a machine without Java skips it instead of crashing."""

import shutil
import warnings

from pycocoevalcap.meteor.meteor import Meteor


def meteor_score(gts: dict[int, list[str]], res: dict[int, list[str]]) -> float | None:
    """Corpus METEOR (0-1) of the tokenised `res` against `gts`, or None with a one-line warning where it cannot run.

    The scorer starts `java -jar meteor-1.5.jar` (about 12 s for a few hundred examples, 2 GB heap). Where `java`
    is not on PATH, or the process fails, the warning says why and the caller leaves METEOR out.
    """
    if shutil.which("java") is None:
        warnings.warn("METEOR skipped: `java` is not on PATH (install a JRE, e.g. default-jre-headless)", stacklevel=2)
        return None
    try:
        scorer = Meteor()
    except OSError as error:
        warnings.warn(f"METEOR skipped: could not start java ({error})", stacklevel=2)
        return None
    try:
        score, _ = scorer.compute_score(gts, res)
        return float(score)
    except (OSError, ValueError) as error:
        warnings.warn(f"METEOR skipped: the METEOR java process failed ({error!r})", stacklevel=2)
        return None
    finally:
        # compute_score holds its lock when it fails midway, and Meteor.__del__ waits on that lock.
        if scorer.lock.locked():
            scorer.lock.release()
        scorer.meteor_p.kill()
        scorer.meteor_p.communicate()

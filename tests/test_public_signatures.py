"""The package's public functions show their real signatures (help(), inspect, the API reference),
and `import varbench` stays light: no TensorFlow, pandas or registry until a function is used."""
import inspect
import pydoc
import subprocess
import sys

import varbench
import varbench.api


def test_public_functions_are_the_api_functions_with_their_signatures():
    for name in ("importance", "describe_methods", "plot_importance"):
        fn = getattr(varbench, name)
        assert fn is getattr(varbench.api, name), name
        assert "args" not in inspect.signature(fn).parameters, (name, inspect.signature(fn))
    params = list(inspect.signature(varbench.importance).parameters)
    assert params[:4] == ["model", "X", "y", "method"] and "groups" in params
    text = pydoc.render_doc(varbench.importance, renderer=pydoc.plaintext)
    assert "importance(model: 'Any', X: 'Any', y: 'Any', method: 'str' = 'permutation'" in text
    assert "*args" not in text
    assert set(varbench.__all__) <= set(dir(varbench))


def test_import_varbench_stays_light_and_unknown_names_fail_clearly():
    code = ("import sys, varbench\n"
            "heavy = [m for m in ('tensorflow', 'keras', 'pandas', 'mlflow', 'matplotlib', 'varbench.api',"
            " 'varbench.registry') if m in sys.modules]\n"
            "assert not heavy, heavy\n"
            "try:\n    varbench.no_such_name\nexcept AttributeError as e:\n    print(e)\n"
            "from varbench import importance\n"
            "assert 'tensorflow' not in sys.modules  # resolving the name loads varbench.api, not TensorFlow\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "module 'varbench' has no attribute 'no_such_name'" in out.stdout

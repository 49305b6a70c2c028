"""App configurations that only wire Django's own apps."""

from django.contrib.staticfiles.apps import StaticFilesConfig as DjangoStaticFilesConfig


class StaticFilesConfig(DjangoStaticFilesConfig):
    """collectstatic leaves out what no page serves: the node_modules trees the viewflow wheel
    ships (hashed storage would also trip over their stray references), viewflow's Dash and
    Plotly bundles (viewflow.contrib, unused) and its social-login icon font (our login page
    has no social login). That keeps collecting and compressing to a minute, not four."""

    ignore_patterns = [
        *DjangoStaticFilesConfig.ignore_patterns,
        "node_modules",
        "viewflow/js/contrib/*",
        "viewflow/fonts/simple-icons/*",
    ]

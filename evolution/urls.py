"""The evolution pages: tree, design, diff, leaderboard, units, seeding, the dashboard with its run controls,
and the researcher actions."""

from django.urls import path

from evolution.views import (
    actions,
    assets,
    dashboard,
    design,
    diff,
    exports,
    leaderboard,
    run_controls,
    runs,
    seed,
    tree,
    units,
)

app_name = "evolution"

urlpatterns = [
    path("", tree.tree_page, name="tree"),
    path("tree/graph.json", tree.tree_graph, name="tree-graph"),
    path("tree/results/", tree.tree_results, name="tree-results"),
    path("designs/<slug:slug>/", design.design_detail, name="design"),
    path("designs/<slug:slug>/diff/", diff.design_diff, name="diff"),
    path("designs/<slug:slug>/code.py", design.design_code, name="design-code"),
    path("designs/<slug:slug>/composed/", design.design_composed, name="design-composed"),
    path("designs/<slug:slug>/design.json", design.design_json, name="design-json"),
    path("designs/<slug:slug>/rungs/<str:rung>/download/<str:kind>/", exports.verification_download,
         name="verification-download"),
    path("designs/<slug:slug>/approve/", actions.approve, name="approve"),
    path("designs/<slug:slug>/veto/", actions.veto, name="veto"),
    path("designs/<slug:slug>/promote/", actions.promote, name="promote"),
    path("designs/<slug:slug>/annotate/", actions.annotate, name="annotate"),
    path("designs/<slug:slug>/make-seed/", actions.make_seed, name="make-seed"),
    path("designs/<slug:slug>/use-as-parent/", actions.use_as_parent, name="use-as-parent"),
    path("leaderboard/", leaderboard.leaderboard_page, name="leaderboard"),
    path("units/", units.unit_browser, name="units"),
    path("units/<str:content_hash>/", units.unit_detail, name="unit"),
    path("seed/", seed.seed_page, name="seed"),
    path("seed/uploads/<int:pk>/", seed.upload_detail, name="upload"),
    path("assets/plotly-<str:version>.min.js", assets.plotly_js, name="plotly"),
    path("dashboard/", dashboard.dashboard_page, name="dashboard"),
    path("dashboard/fitness.json", dashboard.dashboard_fitness, name="dashboard-fitness"),
    path("dashboard/panels/<slug:panel>/", dashboard.dashboard_panel, name="dashboard-panel"),
    path("dashboard/state/", run_controls.set_state, name="run-state"),
    path("dashboard/settings/", run_controls.update_settings, name="run-settings"),
    path("dashboard/pressure/fix/", run_controls.apply_pressure_fix, name="pressure-fix"),
    path("runs/", runs.runs_page, name="runs"),
    path("runs/<int:pk>/", runs.run_detail, name="run"),
    path("runs/<int:pk>/export/<slug:table>.<slug:fmt>", runs.run_export, name="run-export"),
]

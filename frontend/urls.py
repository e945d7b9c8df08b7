from django.contrib.auth import views as auth_views
from django.urls import include, path

from frontend import views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(template_name="frontend/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("projects/new", views.project_new, name="project-new"),
    path("projects/<int:project_id>/", views.dashboard, name="project-dashboard"),
    path("projects/<int:project_id>/annotate", views.annotate, name="annotate"),
    path("projects/<int:project_id>/settings", views.project_settings, name="project-settings"),
    path("projects/<int:project_id>/agreement", views.agreement, name="project-agreement"),
    path("projects/<int:project_id>/review", views.review, name="project-review"),
    path("projects/<int:project_id>/members", views.members, name="project-members"),
    path("projects/<int:project_id>/import", views.import_items, name="project-import"),
    path("", include("labeling.exports.pages")),  # /projects/<id>/versions/
]

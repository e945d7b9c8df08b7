from django.urls import include, path

from labeling.api import views

urlpatterns = [
    path("me", views.Me.as_view(), name="api-me"),
    path("projects", views.ProjectListCreate.as_view(), name="api-projects"),
    path("projects/<int:project_id>", views.ProjectDetail.as_view(), name="api-project"),
    path("projects/<int:project_id>/stats", views.ProjectStats.as_view(), name="api-project-stats"),
    path("projects/<int:project_id>/members", views.MemberListCreate.as_view(), name="api-members"),
    path("projects/<int:project_id>/members/<int:member_id>", views.MemberDetail.as_view(), name="api-member"),
    path("projects/<int:project_id>/items", views.ItemList.as_view(), name="api-items"),
    path("projects/<int:project_id>/items/import", views.ItemImport.as_view(), name="api-items-import"),
    path("projects/<int:project_id>/items/<int:item_id>", views.ItemDetail.as_view(), name="api-item"),
    path("projects/<int:project_id>/answers", views.AnswerList.as_view(), name="api-answers"),
    path("jobs", views.JobList.as_view(), name="api-jobs"),
    path("jobs/<int:job_id>", views.JobDetail.as_view(), name="api-job"),
    path("tokens", views.TokenListCreate.as_view(), name="api-tokens"),
    path("tokens/<int:token_id>", views.TokenDetail.as_view(), name="api-token"),
    path("", include("labeling.exports.urls")),
]

from django.urls import include, path

from labeling.api import views, workflow

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
    path("projects/<int:project_id>/answers", workflow.AnswerListSubmit.as_view(), name="api-answers"),
    path("projects/<int:project_id>/next-task", workflow.NextTask.as_view(), name="api-next-task"),
    path("projects/<int:project_id>/me", workflow.MyProgress.as_view(), name="api-my-progress"),
    path("projects/<int:project_id>/review", workflow.ReviewQueue.as_view(), name="api-review"),
    path("projects/<int:project_id>/items/<int:item_id>/review", workflow.ItemReview.as_view(), name="api-item-review"),
    path("projects/<int:project_id>/items/<int:item_id>/history", workflow.ItemHistory.as_view(),
         name="api-item-history"),
    path("projects/<int:project_id>/agreement", workflow.Agreement.as_view(), name="api-agreement"),
    path("projects/<int:project_id>/progress", workflow.Progress.as_view(), name="api-progress"),
    path("projects/<int:project_id>/members/<int:member_id>/pause", workflow.MemberPause.as_view(),
         name="api-member-pause"),
    path("projects/<int:project_id>/aggregate", workflow.Reaggregate.as_view(), name="api-aggregate"),
    path("leases/<int:lease_id>/skip", workflow.LeaseSkip.as_view(), name="api-lease-skip"),
    path("plan", workflow.Plan.as_view(), name="api-plan"),
    path("jobs", views.JobList.as_view(), name="api-jobs"),
    path("jobs/<int:job_id>", views.JobDetail.as_view(), name="api-job"),
    path("tokens", views.TokenListCreate.as_view(), name="api-tokens"),
    path("tokens/<int:token_id>", views.TokenDetail.as_view(), name="api-token"),
    path("", include("labeling.exports.urls")),
]

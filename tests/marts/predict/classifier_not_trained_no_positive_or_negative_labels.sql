{{ config(severity='warn') }}
-- Warns when a classifier has no model because the snapshot it would be trained on (the `train` snapshot,
-- the latest labelled one) has labels of one class only: status no_positive_labels (nobody did it in the label
-- window: no buyer, no returning customer...) or no_negative_labels (everybody did). There are then no
-- scores, no metrics and no fairness rows for it. One row per such classifier, with `problem` in words.
with

runs as (

    select * from {{ ref('ml_classifier_runs') }}

),

final as (

    select
        classifier,
        status,
        train_rows,
        train_positives,
        case status
            when 'no_positive_labels' then
                classifier || ' has no model and no scores: its train snapshot has no positive label (nobody '
                || 'did it in the label window), so there is nothing to learn from. Check that the data reach '
                || 'past the label window after the train cutoff (var label_window_days) and hold the outcome.'
            else
                classifier || ' has no model and no scores: every labelled row of its train snapshot is '
                || 'positive (everybody did it in the label window), so there is nothing to tell apart.'
        end as problem,
        message

    from runs
    where status in ('no_positive_labels', 'no_negative_labels')

)

select * from final

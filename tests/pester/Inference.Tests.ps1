#Requires -Version 7.4
# Module-level: the inference commands against the in-process vLLM simulator, end to end through pipelines.
BeforeAll {
    Import-Module $env:RHAII_MODULE_MANIFEST -Force
    $script:sim = Start-InferenceSimulator -Replicas 2 -Name pester
}
AfterAll {
    if ($sim) { $sim | Stop-InferenceSimulator }
}

Describe 'Start-InferenceSimulator' -Tag Unit, Inference {
    It 'returns a formatted simulator on loopback' {
        $sim.BaseUrl | Should -Match '^http://127\.0\.0\.1:\d+$'
        $sim.PSObject.TypeNames[0] | Should -Be 'RhaiiGke.InferenceSimulator'
        ($sim | Format-Table | Out-String) | Should -Match 'pester'
    }
    It 'answers an OpenAI chat request with the pod header' {
        $body = @{ model = $sim.Model; messages = @(@{ role = 'user'; content = 'hello there' }); max_tokens = 3 } | ConvertTo-Json -Depth 5
        $r = Invoke-WebRequest -Uri "$($sim.BaseUrl)/v1/chat/completions" -Method Post -Body $body -ContentType 'application/json'
        ($r.Content | ConvertFrom-Json).usage.completion_tokens | Should -Be 3
        $r.Headers['x-inference-pod'] | Should -BeIn $sim.PodNames
    }
}
